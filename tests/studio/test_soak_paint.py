"""The window survives hard repainting while jobs report progress (issue 10: "none_dealloc").

PySide6 6.12.0 on Python 3.11 lost a reference to None on every Qt method called from Python
that returns nothing or an empty QVariant, and to True on every Signal.emit; the window aborted
after some minutes of painting. The soak runs the real window in a child process, so an abort
fails the test rather than killing pytest, and checks the singletons' reference counts.
"""

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

from studio.binding_check import PROBE_CALLS, drops_references

SOAK = Path(__file__).resolve().parent / "soak_window.py"


def run_soak(kit, work: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_WAIT_POLICY="PASSIVE")
    return subprocess.run([sys.executable, str(SOAK), str(kit), str(work), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def soak_report(completed: subprocess.CompletedProcess) -> dict:
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_window_survives_hard_repainting_while_jobs_report_progress(kit, tmp_path):
    completed = run_soak(kit, tmp_path, "--paints", "1500", "--jobs", "4")
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = soak_report(completed)
    assert report["jobs_done"] and report["jobs"] == 5
    # 5 queue rows and 10 candidate cells, each paint reading 5-10 roles: well over 50k data() calls
    assert report["paints"] >= 1500 and report["queue_rows"] == 5 and report["candidate_cells"] == 10
    # A sound binding moves them by tens (objects come and go); the fault moved None by ~120 per
    # paint and True by one per emit (measured with 6.12.0: -32257 and -89 after 262 paints).
    assert report["delta"]["none"] > -1000, report
    assert report["delta"]["true"] > -50, report
    assert report["delta"]["false"] > -50, report


def _leak_none() -> None:
    """What the faulty binding did on each call: one reference to None given back too many."""
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(None))


def test_the_start_up_check_tells_a_binding_that_drops_references():
    try:
        assert drops_references(_leak_none)
    finally:
        for _ in range(PROBE_CALLS):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    assert not drops_references(lambda: None)
    assert not drops_references(), "the installed PySide6 loses references to None: see pyproject.toml"
