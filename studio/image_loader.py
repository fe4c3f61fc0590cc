"""Decode images on a worker thread and hand them back to the GUI thread.

A 40-megapixel photo takes long enough to decode that doing it in a slot would freeze the window;
the document accepts what `load_image` returns, so only the cheap swap runs on the GUI thread.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from engine.errors import StudioError
from engine.metadata import read_recorded
from engine.models.registry import ModelRegistry, vae_scale_factor
from studio.background import BackgroundCalls
from studio.document import LoadedImage, load_image


def with_latent_factor(loaded: LoadedImage, registry: ModelRegistry, fallback_model: str | None) -> LoadedImage:
    """`loaded` with the pixels per latent cell of the model its PNG records (else `fallback_model`,
    the prompt panel's); unknown (None) when neither resolves. Reads the file and may scan model
    folders: a worker's job, done with the decode."""
    try:
        model = read_recorded(loaded.path).settings.model or fallback_model
        return replace(loaded, vae_factor=vae_scale_factor(registry.resolve(model)) if model else None)
    except (StudioError, OSError):
        return loaded


class AsyncImageLoader(QObject):
    """`request(path, purpose)` decodes off the GUI thread; `loaded(LoadedImage, purpose)` follows,
    or `failed(message)` for any failure. The image comes with its model's latent factor, so the
    canvas grid matches what the engine will edit and the window touches no model on its thread.

    Only the latest request counts: a slow decode that finishes after a newer one is dropped.
    """

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, registry: ModelRegistry, fallback_model: Callable[[], str | None],
                 pool: QThreadPool | None = None, parent=None):
        super().__init__(parent)
        self._registry = registry
        self._fallback_model = fallback_model
        self._calls = BackgroundCalls(latest_only=True, pool=pool, parent=self)

    def request(self, path: str, purpose: str) -> None:
        self.run(partial(load_image, str(path)), purpose)

    def busy(self) -> bool:
        """Whether a decode is under way (its outcome not yet delivered)."""
        return self._calls.pending()

    def run(self, work: Callable[[], LoadedImage], purpose: str) -> None:
        """Like `request`, for an image that `work()` makes on the worker (a paste written to disk)."""
        fallback = self._fallback_model()  # read here, on the GUI thread that owns the panel
        self._calls.call(lambda: with_latent_factor(work(), self._registry, fallback),
                         lambda loaded: self.loaded.emit(loaded, purpose), self.failed.emit)
