"""The engine imports without Qt, and its light modules without torch or diffusers until a job needs them.

Every module of the package is imported (walked with pkgutil, so a new module is covered the
day it is added), each check in a fresh interpreter: this test process may have loaded anything.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

REPO = Path(__file__).resolve().parents[2]

# Imported by `latent-studio --version`, the window at start-up and every job submission: these
# must not pull torch or diffusers in (seconds of start-up) before a job runs.
LIGHT = ("engine", "engine.api", "engine.atomic", "engine.errors", "engine.events", "engine.jobs",
         "engine.metadata", "engine.tasks", "engine.cli", "engine.models.registry", "engine.models.spec",
         "engine.paths", "engine.grid", "engine.edits", "engine.metrics")

PROBE = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[2]))))
"""


def every_engine_module() -> list[str]:
    return ["engine"] + sorted(info.name for info in pkgutil.walk_packages(engine.__path__, "engine."))


def _loaded_after_importing(modules, forbidden) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(modules)), json.dumps(list(forbidden))],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_walk_finds_every_module_file():
    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
             for p in (REPO / "engine").rglob("*.py")}
    assert files == set(every_engine_module())


def test_no_engine_module_imports_qt_or_the_studio():
    assert _loaded_after_importing(every_engine_module(), ("PySide6", "shiboken6", "studio")) == []


def test_the_light_modules_load_no_torch_or_diffusers():
    assert set(LIGHT) <= set(every_engine_module())
    assert _loaded_after_importing(LIGHT, ("torch", "diffusers", "transformers", "PySide6", "studio")) == []
