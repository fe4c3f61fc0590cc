"""Apply each mutation of tests/mutation/mutations.py to a copy of the tree and run its tests.

    python tests/mutation/run_mutations.py [NAME-SUBSTRING ...]

A mutation is caught when its tests fail. Prints one line per mutation and a summary; exits 1
if any survived. Slow (tiny-model tests per mutation): run it by hand or in a nightly job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutations import MUTATIONS, Mutation  # noqa: E402

COPIED = ("engine", "tests", "pyproject.toml")  # resources/ is linked, not copied


def copy_tree(target: Path) -> None:
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)
    if (REPO / "resources").exists():
        (target / "resources").symlink_to(REPO / "resources")


def passes(tree: Path, tests: tuple[str, ...]) -> bool:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_WAIT_POLICY="PASSIVE", QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          cwd=tree, env=env, capture_output=True, text=True)
    return done.returncode == 0


def run_one(tree: Path, mutation: Mutation) -> tuple[bool, float]:
    path = tree / mutation.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the text to mutate is not in {mutation.path} exactly once")
    path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
    started = time.time()
    try:
        caught = not passes(tree, mutation.tests)
    finally:
        path.write_text(original, encoding="utf-8")
    return caught, time.time() - started


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(word in m.name for word in argv)]
    with tempfile.TemporaryDirectory(prefix="latent-studio-mutants-") as folder:
        tree = Path(folder)
        copy_tree(tree)
        check = subprocess.run([sys.executable, "-c", "import engine; print(engine.__file__)"], cwd=tree,
                               env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True)
        if not check.stdout.strip().startswith(str(tree)):
            raise SystemExit(f"the copy's engine is not the one imported: {check.stdout or check.stderr}")
        for tests in dict.fromkeys(m.tests for m in chosen):  # a mutant only counts against passing tests
            if not passes(tree, tests):
                raise SystemExit(f"the unmutated tree fails {' '.join(tests)}: fix that first")
        survived = []
        for mutation in chosen:
            caught, seconds = run_one(tree, mutation)
            print(f"{'caught  ' if caught else 'SURVIVED'} {seconds:6.1f} s  {mutation.name}", flush=True)
            if not caught:
                survived.append(mutation.name)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
