"""The mutation list (tests/mutation) still applies to the source: each mutated text occurs exactly
once where it says, and each names tests that exist. (Running the mutants is slow: see
tests/mutation/run_mutations.py.)"""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_mutations():
    spec = importlib.util.spec_from_file_location("mutations", REPO / "tests" / "mutation" / "mutations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutations", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module.MUTATIONS


MUTATIONS = _load_mutations()


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_mutation_applies_to_the_current_source(mutation):
    source = (REPO / mutation.path).read_text(encoding="utf-8")
    assert source.count(mutation.old) == 1, f"{mutation.path} no longer contains the text {mutation.name!r} mutates"
    assert mutation.old != mutation.new
    files = [arg for arg in mutation.tests if arg.endswith(".py")]
    assert files and all((REPO / name).is_file() for name in files)
