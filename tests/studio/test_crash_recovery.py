"""After a crash, the next start says what was recovered; after a clean exit it says nothing."""

import signal
import subprocess
import sys

from PySide6.QtCore import QSettings

from engine.models.registry import ModelRegistry
from studio.app import build_studio
from studio.history import SessionFolders
from studio.session_guard import SessionGuard
from test_soak_paint import run_soak, soak_report


def _build(kit, tmp_path, qtbot):
    built = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp_path / "data", device="cpu",
                         settings=QSettings(str(tmp_path / "studio.ini"), QSettings.IniFormat))
    qtbot.addWidget(built.window)
    return built


def test_a_real_crash_is_reported_with_its_results_and_crash_log_on_the_next_start(kit, tmp_path, qtbot):
    crashed = run_soak(kit, tmp_path, "--paints", "10", "--jobs", "1", "--abort-when-done")
    assert crashed.returncode == -signal.SIGABRT, crashed.stderr[-3000:]
    [session] = (tmp_path / "data" / "sessions").iterdir()
    crash_log = session / "crash.log"
    assert "Fatal Python error: Aborted" in crash_log.read_text()

    studio = _build(kit, tmp_path, qtbot)
    try:
        assert studio.window.status.currentMessage() == (
            f"The last session ended unexpectedly; 4 results from it are in History. Crash report: {crash_log}")
        qtbot.waitUntil(lambda: studio.controller.history.rowCount() == 4, timeout=10_000)
    finally:
        studio.shutdown()

    again = _build(kit, tmp_path, qtbot)  # said once; that clean exit left nothing to report
    try:
        assert "unexpectedly" not in again.window.status.currentMessage()
    finally:
        again.shutdown()


def test_a_clean_exit_leaves_no_marker_and_no_notice(kit, tmp_path, qtbot):
    completed = run_soak(kit, tmp_path, "--paints", "10", "--jobs", "1")
    assert completed.returncode == 0 and soak_report(completed)["jobs_done"], completed.stderr[-3000:]
    assert not list((tmp_path / "data" / "running").iterdir())
    assert not list((tmp_path / "data" / "sessions").glob("*/crash.log"))  # empty logs are removed
    studio = _build(kit, tmp_path, qtbot)
    try:
        assert "unexpectedly" not in studio.window.status.currentMessage()
    finally:
        studio.shutdown()


def test_a_session_still_running_elsewhere_is_not_called_a_crash(tmp_path):
    # A second studio process that holds its session, then is killed.
    other = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from studio.history import SessionFolders; "
        "from studio.session_guard import SessionGuard; "
        f"SessionGuard(SessionFolders(Path({str(tmp_path)!r}))).begin(); print('ready', flush=True); "
        "sys.stdin.read()")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "ready"
        assert SessionGuard(SessionFolders(tmp_path)).begin() == []  # its process is alive
    finally:
        other.kill()
        other.wait()
    ended = SessionGuard(SessionFolders(tmp_path)).begin()
    assert [(end.results, end.crash_log) for end in ended] == [(0, None)]
    assert SessionGuard(SessionFolders(tmp_path)).begin() == []  # reported once
