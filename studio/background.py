"""Run slow calls (decoding, encoding, folder scans) on a thread pool; hand each outcome to the GUI thread.

DESIGN section 11: the GUI thread never runs model, encode or long file work. A call's outcome is
delivered by a queued signal, so its callback runs on the thread that owns the `BackgroundCalls`
(the GUI thread), where touching widgets is allowed. Every failure comes back as a message, not only
a StudioError: a MemoryError or OSError raised in a worker would otherwise vanish with the worker,
and the user would wait for a picture that never comes.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from engine.errors import StudioError


def describe_failure(exc: BaseException) -> str:
    """A sentence for the status bar or a message box."""
    if isinstance(exc, StudioError):
        return str(exc)  # already written for the user
    if isinstance(exc, MemoryError):
        return "Not enough memory for this image."
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Signals(QObject):
    done = Signal(int, object, object)  # ticket, result, error message (None when it worked)


class _Call(QRunnable):
    def __init__(self, ticket: int, work: Callable[[], Any], signals: _Signals):
        super().__init__()
        self._ticket, self._work, self._signals = ticket, work, signals

    def run(self) -> None:
        try:
            result, error = self._work(), None
        except Exception as exc:  # noqa: BLE001 - any failure must reach the user (module docstring)
            result, error = None, describe_failure(exc)
        try:
            self._signals.done.emit(self._ticket, result, error)
        except RuntimeError:
            pass  # its BackgroundCalls was deleted (the window closed) while this ran: nobody waits for it


class PythonThreadPool:
    """A stand-in for QThreadPool whose one worker is a Python thread, for BackgroundCalls(pool=...).

    OpenTimelineIO's pybind11 bindings hang for good when called on a QThreadPool thread while
    other Qt threads run Python (reproduced with project saves beside video decodes); on a thread
    Python created they don't. Project files go through OTIO, so they run here.
    """

    def __init__(self, name: str):
        from concurrent.futures import ThreadPoolExecutor

        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def start(self, runnable: QRunnable) -> None:
        self._executor.submit(runnable.run)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


class BackgroundCalls(QObject):
    """`call(work, on_done, on_failed)`: `work()` runs on the pool, then `on_done(result)` or
    `on_failed(message)` runs on this object's thread.

    `latest_only`: a newer call supersedes the ones still running, whose outcomes are dropped, so a
    slow decode cannot overwrite what the user asked for after it. Otherwise every outcome counts.
    """

    def __init__(self, latest_only: bool, pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._latest_only = latest_only
        self._pool = pool or QThreadPool.globalInstance()
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._tickets = itertools.count(1)
        self._waiting: dict[int, tuple[Callable[[Any], None], Callable[[str], None]]] = {}

    def call(self, work: Callable[[], Any], on_done: Callable[[Any], None],
             on_failed: Callable[[str], None]) -> None:
        ticket = next(self._tickets)
        if self._latest_only:
            self._waiting.clear()
        self._waiting[ticket] = (on_done, on_failed)
        self._pool.start(_Call(ticket, work, self._signals))

    def pending(self) -> bool:
        """Whether an outcome is still to be delivered."""
        return bool(self._waiting)

    @Slot(int, object, object)
    def _on_done(self, ticket: int, result, error) -> None:
        callbacks = self._waiting.pop(ticket, None)
        if callbacks is None:
            return  # superseded by a newer call
        on_done, on_failed = callbacks
        if error is None:
            on_done(result)
        else:
            on_failed(error)
