"""Decode images on a worker thread and hand them back to the GUI thread.

A 40-megapixel photo takes long enough to decode that doing it in a slot would freeze the window;
the document accepts what `load_image` returns, so only the cheap swap runs on the GUI thread.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from studio.background import BackgroundCalls
from studio.document import LoadedImage, load_image


class AsyncImageLoader(QObject):
    """`request(path, purpose)` decodes off the GUI thread; `loaded(LoadedImage, purpose)` follows,
    or `failed(message)` for any failure.

    Only the latest request counts: a slow decode that finishes after a newer one is dropped.
    """

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, pool: QThreadPool | None = None, parent=None):
        super().__init__(parent)
        self._calls = BackgroundCalls(latest_only=True, pool=pool, parent=self)

    def request(self, path: str, purpose: str) -> None:
        self.run(partial(load_image, str(path)), purpose)

    def busy(self) -> bool:
        """Whether a decode is under way (its outcome not yet delivered)."""
        return self._calls.pending()

    def run(self, work: Callable[[], LoadedImage], purpose: str) -> None:
        """Like `request`, for an image that `work()` makes on the worker (a paste written to disk)."""
        self._calls.call(work, lambda loaded: self.loaded.emit(loaded, purpose), self.failed.emit)
