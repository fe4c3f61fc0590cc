"""The engine imports without Qt, and without torch or diffusers until a job needs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import engine, engine.jobs, engine.api, engine.events, engine.tasks
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "torch", "diffusers", "studio"))))
"""


def test_importing_the_engine_loads_no_qt_torch_or_diffusers():
    # A fresh interpreter: this test process may already have loaded any of them.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
