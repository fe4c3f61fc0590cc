"""Decode images on a worker thread and hand them back to the GUI thread.

A 40-megapixel photo takes long enough to decode that doing it in a slot would freeze the window;
the document accepts what `load_image` returns, so only the cheap swap runs on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from engine.errors import StudioError
from studio.document import load_image


class _Signals(QObject):
    done = Signal(int, object, str)  # ticket, LoadedImage or None, error message


class _Decode(QRunnable):
    def __init__(self, ticket: int, path: str, signals: _Signals):
        super().__init__()
        self._ticket, self._path, self._signals = ticket, path, signals

    def run(self) -> None:
        try:
            self._signals.done.emit(self._ticket, load_image(self._path), "")
        except StudioError as exc:
            self._signals.done.emit(self._ticket, None, str(exc))


class AsyncImageLoader(QObject):
    """`request(path, purpose)` decodes off the GUI thread; `loaded(LoadedImage, purpose)` follows.

    Only the latest request counts: a slow decode that finishes after a newer one is dropped.
    """

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, pool: QThreadPool | None = None, parent=None):
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._ticket = 0
        self._purposes: dict[int, str] = {}

    def request(self, path: str, purpose: str) -> None:
        self._ticket += 1
        self._purposes = {self._ticket: purpose}
        self._pool.start(_Decode(self._ticket, str(path), self._signals))

    @Slot(int, object, str)
    def _on_done(self, ticket: int, loaded, error: str) -> None:
        purpose = self._purposes.pop(ticket, None)
        if purpose is None:
            return
        if loaded is None:
            self.failed.emit(error)
        else:
            self.loaded.emit(loaded, purpose)
