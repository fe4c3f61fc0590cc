"""Notice, on start, a session that ended without closing, and say what of it is safe.

Every result is already on disk in its session folder when its job finishes (studio/history.py),
so a crash loses the window, not the work; the user should hear that. At start the studio writes
a marker for its session (`running/<session>-<pid>.json` in the data folder) and
removes it at a clean exit. A marker whose process is gone means that session crashed or was
killed: the next start counts its results and puts one sentence in the status bar. While the
window runs, faulthandler writes a crashing thread's Python stack to `crash.log` in the session
folder, so the notice can point at it. Qt-free: nothing here needs the window.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

from engine.atomic import write_text_atomic
from studio.history import SessionFolders, is_result_image

CRASH_LOG = "crash.log"


@dataclass(frozen=True)
class UncleanEnd:
    """A past session that did not close: its folder, how many results it left, its crash log."""

    session: Path
    results: int
    crash_log: Optional[Path]

    def notice(self) -> str:
        noun = "result" if self.results == 1 else "results"
        verb = "is" if self.results == 1 else "are"
        text = f"The last session ended unexpectedly; {self.results} {noun} from it {verb} in History."
        if self.crash_log is not None:
            text += f" Crash report: {self.crash_log}"
        return text


def recovery_notice(ended: list[UncleanEnd]) -> Optional[str]:
    """One sentence for the status bar about the sessions `SessionGuard.begin` found, or None."""
    if not ended:
        return None
    if len(ended) == 1:
        return ended[0].notice()
    results = sum(end.results for end in ended)
    text = (f"{len(ended)} earlier sessions ended unexpectedly; {results} "
            f"{'result' if results == 1 else 'results'} from them {'is' if results == 1 else 'are'} in History.")
    logs = [end.crash_log for end in ended if end.crash_log is not None]
    return text + (f" Latest crash report: {logs[0]}" if logs else "")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another studio in this process (tests build several)
    if sys.platform == "win32":  # os.kill would terminate it; ask for a handle instead
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    except OSError:
        return False
    return True


class SessionGuard:
    """The marker and crash log of one studio session; `begin` at start, `end` at a clean exit."""

    def __init__(self, folders: SessionFolders):
        self._folders = folders
        self._markers = folders.root.parent / "running"
        self._marker = self._markers / f"{folders.current.name}-{os.getpid()}.json"
        self._log: Optional[IO[str]] = None

    @property
    def crash_log(self) -> Path:
        return self._folders.current / CRASH_LOG

    def begin(self, record_crashes: bool = False) -> list[UncleanEnd]:
        """Claim this session; return the sessions that ended without `end`, newest first.

        `record_crashes` points faulthandler at this session's crash log: it is process-wide,
        so only the app's own start asks for it, not every studio a test builds.
        """
        ended = self._collect_unclean_ends()
        self._markers.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._marker, json.dumps({"pid": os.getpid(), "started": time.time(),
                                                    "session": self._folders.current.name}))
        if record_crashes:
            self._folders.results_dir()
            self._log = open(self.crash_log, "a", encoding="utf-8")
            faulthandler.enable(self._log, all_threads=True)
        return ended

    def end(self) -> None:
        """A clean exit: no marker left, and no empty crash log."""
        if self._log is not None:
            faulthandler.disable()
            self._log.close()
            self._log = None
            if self.crash_log.exists() and self.crash_log.stat().st_size == 0:
                self.crash_log.unlink()
            folder = self._folders.current
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()  # a session that made nothing leaves nothing
        self._marker.unlink(missing_ok=True)

    def _collect_unclean_ends(self) -> list[UncleanEnd]:
        if not self._markers.is_dir():
            return []
        ended = []
        for marker in self._markers.glob("*.json"):
            try:
                recorded = json.loads(marker.read_text(encoding="utf-8"))
                pid, name = int(recorded["pid"]), Path(str(recorded["session"])).name
            except (OSError, ValueError, KeyError, TypeError):
                pid, name = -1, marker.stem  # unreadable: its writer is gone either way
            if pid > 0 and _process_alive(pid):
                continue  # that studio is still running
            session = self._folders.root / name
            results = sum(1 for p in session.glob("*.png") if is_result_image(p)) if session.is_dir() else 0
            log = session / CRASH_LOG
            crash_log = log if log.is_file() and log.stat().st_size > 0 else None
            ended.append((marker.stat().st_mtime, UncleanEnd(session, results, crash_log)))
            marker.unlink(missing_ok=True)  # said once; the results stay in History
        return [end for _, end in sorted(ended, key=lambda pair: pair[0], reverse=True)]
