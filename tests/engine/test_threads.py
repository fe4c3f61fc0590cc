"""Every entry point sets passive OpenMP waiting and torch's thread count before torch loads (issue 12).

Each check runs the real entry point in a fresh interpreter whose environment has no OpenMP
settings, with an import hook that records the environment at the moment torch is imported;
afterwards the child reports torch.get_num_threads(), which OpenMP fixed when torch loaded.
"""

import json
import os
import subprocess
import sys

import pytest

from engine.threads import apply_thread_policy, torch_threads, usable_cores

# Runs first in the child: remember the OpenMP settings as they are when torch starts to load.
SPY = """
import json, os, sys
seen = {}
class TorchImportSpy:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not seen:
            seen.update(wait=os.environ.get("OMP_WAIT_POLICY"), threads=os.environ.get("OMP_NUM_THREADS"))
        return None
sys.meta_path.insert(0, TorchImportSpy())
def report():
    import torch
    print("REPORT " + json.dumps(dict(seen, torch_threads=torch.get_num_threads())))
"""

CLI = SPY + """
import runpy
sys.argv = ["engine.cli", "models", "list", "--json"]
try:
    runpy.run_module("engine.cli", run_name="__main__")
except SystemExit:
    pass
report()
"""

LAUNCHER_CLI = SPY + """
from studio.launcher import main
main(["models", "list", "--json"])
report()
"""

# The window through the launcher, closed by a timer once its event loop runs.
LAUNCHER_WINDOW = SPY + """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
QTimer.singleShot(500, app.quit)
from studio.launcher import main
main([])
report()
"""

TOY_TRAINING = SPY + """
import runpy
sys.argv = ["train", "--help"]
try:
    runpy.run_module("engine.toy.training.train", run_name="__main__")
except SystemExit:
    pass
report()
"""


def _run(code: str, tmp_path, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_"))}
    env.update(QT_QPA_PLATFORM="offscreen", LATENT_STUDIO_DATA=str(tmp_path / "data"),
               LATENT_STUDIO_CONFIG=str(tmp_path / "config"), **settings)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    [line] = [line for line in completed.stdout.splitlines() if line.startswith("REPORT ")]
    return json.loads(line[len("REPORT "):])


@pytest.mark.parametrize("entry", [CLI, LAUNCHER_CLI, TOY_TRAINING], ids=["python -m engine.cli",
                                                                          "latent-studio CLI", "toy training"])
def test_command_line_entry_points_wait_passively_on_every_core(entry, tmp_path):
    cores = usable_cores()
    report = _run(entry, tmp_path)
    assert report == {"wait": "PASSIVE", "threads": str(cores), "torch_threads": cores}


def test_the_window_leaves_its_event_loop_a_core(tmp_path):
    threads = max(1, usable_cores() - 1)
    report = _run(LAUNCHER_WINDOW, tmp_path)
    assert report == {"wait": "PASSIVE", "threads": str(threads), "torch_threads": threads}


def test_the_users_own_settings_win(tmp_path):
    report = _run(LAUNCHER_CLI, tmp_path, OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1")
    assert report == {"wait": "ACTIVE", "threads": "1", "torch_threads": 1}


def test_thread_counts():
    assert [torch_threads(gui=False, cores=n) for n in (1, 2, 8)] == [1, 2, 8]
    assert [torch_threads(gui=True, cores=n) for n in (1, 2, 8)] == [1, 1, 7]
    environ = {"OMP_NUM_THREADS": "3"}
    policy = apply_thread_policy(gui=True, environ=environ)
    assert (policy.wait_policy, policy.threads, policy.from_user) == ("PASSIVE", 3, True)
    assert environ == {"OMP_NUM_THREADS": "3", "OMP_WAIT_POLICY": "PASSIVE"}
