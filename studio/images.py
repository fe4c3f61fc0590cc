"""Pixels into QImages, and thumbnails decoded off the GUI thread: the one place for both.

`to_qimage` turns what the engine hands over (numpy previews, PIL images) into a QImage that owns
its pixels; `load_thumbnail` decodes and shrinks an image file (or a clip's middle frame);
`ThumbnailLoader` runs that on the background pool (studio.background) and hands each thumbnail to
the GUI thread. The candidates strip, the queue and the history all use these.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Qt
from PySide6.QtGui import QImage, QImageReader

from engine.atomic import WriteFailed, write_new
from engine.clips.files import read_frame
from engine.errors import BadInput
from engine.timeline.media import IMAGE_SUFFIXES
from studio.background import BackgroundCalls


def to_qimage(pixels: Any) -> Optional[QImage]:
    """A QImage that owns its pixels, from an HxWx3 / HxWx4 / HxW array (uint8, or floats in [0, 1]),
    a PIL image or a QImage; None for anything that is not an image (a preview is cosmetic: an odd
    one is ignored, never an error)."""
    if pixels is None:
        return None
    if isinstance(pixels, QImage):
        return None if pixels.isNull() else pixels.copy()
    if hasattr(pixels, "convert") and hasattr(pixels, "mode"):  # a PIL image
        pixels = pixels.convert("RGBA" if "A" in pixels.mode else "RGB")
    try:
        array = np.asarray(pixels)
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    if array.ndim == 3 and array.shape[2] in (3, 4):
        fmt = QImage.Format_RGB888 if array.shape[2] == 3 else QImage.Format_RGBA8888
    elif array.ndim == 2:
        fmt = QImage.Format_Grayscale8
    else:
        return None
    if array.size == 0:
        return None
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            return None
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    # QImage would only borrow the numpy buffer; copy() gives it pixels of its own.
    return QImage(array.data, width, height, array.strides[0], fmt).copy()


def read_image(path: str | None) -> QImage:
    """`path` decoded as it is shown (EXIF orientation applied), premultiplied for fast painting;
    a null QImage when there is no path or the file cannot be read."""
    if not path:
        return QImage()
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    return image.convertToFormat(QImage.Format_ARGB32_Premultiplied) if not image.isNull() else QImage()


def load_thumbnail(path: str, size: int) -> QImage:
    """`path` (an image, or a clip or video: its middle frame) decoded and fitted into size x size
    (smooth when shrinking); a null QImage if unreadable.

    Images already smaller are kept as they are: views scale them up nearest-neighbour, which keeps
    a 64 x 64 result crisp and the models small.
    """
    image = read_image(path) if Path(path).suffix.lower() in IMAGE_SUFFIXES else _middle_frame(path)
    if image.isNull():
        return image
    if image.width() > size or image.height() > size:
        image = image.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    return image


def _middle_frame(path: str) -> QImage:
    try:
        return to_qimage(read_frame(path)) or QImage()
    except BadInput:
        return QImage()


def write_new_png(image: QImage, wanted: str | Path, what: str) -> Path:
    """`image` as a PNG at `wanted` or the first free numbered name beside it (engine.atomic.write_new:
    atomic, never replacing a file, since recorded requests point at these files by path); where it went.
    `what` names it in the error a full disk gives. Encoding is slow: call it on a worker."""

    def encode(tmp: Path) -> None:
        if not image.save(str(tmp), "PNG"):
            raise WriteFailed(f"Could not write {what} to {wanted}. Check free space and permissions.")

    return write_new(wanted, encode)


class ThumbnailLoader(QObject):
    """`load(path, on_done)`: the thumbnail is decoded on the pool, then `on_done(QImage)` runs on
    this object's thread (a null QImage when the file cannot be read). Every request is answered;
    callers drop answers they no longer want."""

    def __init__(self, size: int, pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._pool = pool or QThreadPool.globalInstance()
        self._calls = BackgroundCalls(latest_only=False, pool=self._pool, parent=self)

    def load(self, path: str, on_done: Callable[[QImage], None]) -> None:
        self._calls.call(partial(load_thumbnail, str(path), self.size), on_done, lambda _message: on_done(QImage()))

    def pending(self) -> bool:
        return self._calls.pending()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the pool is idle (tests; the answers still arrive as events)."""
        return self._pool.waitForDone(timeout_ms)
