"""The image being edited: pixels, latent grid, block selection and inpainting mask, Qt-side only.

The document never calls a model. It holds what the canvas shows and what the controller sends
to the engine (`path`, the grid, the mask), and every change a user would want back — a new
image, a grid change, a brush stroke, clearing the mask — goes through `undo_stack`. Selecting a
block is not a change to the image, so it is not undoable.

Geometry follows the engine exactly: a cell is a latent-grid cell (`engine.grid.cell_bounds` over
the latent size) times the VAE factor, the same rectangle `engine.edits.locate_block` gives, so
what the user selects is what the engine resamples.
"""

from __future__ import annotations

import bisect
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QUndoCommand, QUndoStack

from engine.api import GridSeeds
from engine.atomic import WriteFailed, atomic_path
from engine.errors import BadInput
from engine.grid import cell_bounds
from engine.images import load_rgb
from engine.metadata import read_recorded
from studio.images import to_qimage, write_new_png

DEFAULT_GRID = (4, 4)
MAX_GRID = 64
UNDO_LIMIT = 100  # image states hold whole images; mask patches are small
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- pixels <-> numpy ------------------------------------------------------------------------

def _rows(image: QImage, writable: bool = False) -> np.ndarray:
    """An 8-bit image's pixel rows as a (height, width) uint8 view; writable views detach first."""
    buffer = image.bits() if writable else image.constBits()
    array = np.frombuffer(buffer, dtype=np.uint8, count=image.sizeInBytes())
    return array.reshape(image.height(), image.bytesPerLine())[:, : image.width()]


def _blank_mask(width: int, height: int) -> QImage:
    if width <= 0 or height <= 0:
        return QImage()
    mask = QImage(width, height, QImage.Format_Grayscale8)
    mask.fill(0)
    return mask


def _write_patch(mask: QImage, rect: QRect, patch: QImage) -> None:
    target = _rows(mask, writable=True)
    target[rect.top(): rect.top() + rect.height(), rect.left(): rect.left() + rect.width()] = _rows(patch)


# --- state -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ImageState:
    """Everything an image replacement swaps, so one command can restore it exactly."""

    path: str | None
    image: QImage
    grid_rows: int
    grid_cols: int
    grid_seeds: GridSeeds | None
    mask: QImage


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image file and its recorded grid, ready for `open_image` / `replace_image`."""

    path: str
    image: QImage
    grid_seeds: GridSeeds | None
    vae_factor: int | None = None  # pixels per latent cell of its model; None: unknown, keep the current


def load_image(path: str | Path) -> LoadedImage:
    """Decode `path` (any mode PIL reads) and read its grid; touches no document.

    Safe to call on a worker thread, so a window can decode a large file off the GUI thread and
    hand the result to `open_image`. Raises BadInput for a missing or unreadable file.
    """
    return LoadedImage(str(path), to_qimage(load_rgb(path)), read_recorded(path).grid)


def write_mask(mask: QImage, path: str | Path) -> Path:
    """`mask` as an 8-bit greyscale PNG (white = repaint) at `path` or a free numbered name beside
    it; where it went. Safe on a worker thread."""
    if mask.isNull():
        raise BadInput("There is no image, so there is no mask to save.")
    return write_new_png(mask, path, "the mask")


class ImageDocument(QObject):
    image_changed = Signal()
    mask_changed = Signal()
    selection_changed = Signal()
    grid_changed = Signal()
    # The image-pixel rectangle a mask change touched (the whole image when it was replaced);
    # emitted just before mask_changed so views can refresh only that part.
    mask_region_changed = Signal(QRect)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.path: str | None = None
        self.image = QImage()
        self.mask = QImage()
        self.grid_rows, self.grid_cols = DEFAULT_GRID
        self.grid_seeds: GridSeeds | None = None
        self.selected_cell: tuple[int, int] | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self._vae_factor = 8
        self._preferred_grid = DEFAULT_GRID  # the grid an imported image gets: the user's last choice
        self._stroke: _Stroke | None = None
        self._stroke_serial = 0

    # --- properties --------------------------------------------------------------------

    @property
    def has_seeds(self) -> bool:
        """Whether the image records its grid seeds (generated here) rather than being imported."""
        return self.grid_seeds is not None

    @property
    def vae_factor(self) -> int:
        return self._vae_factor

    @vae_factor.setter
    def vae_factor(self, factor: int) -> None:
        factor = int(factor)
        if factor < 1:
            raise ValueError(f"the VAE factor must be at least 1, got {factor}")
        if factor != self._vae_factor:
            self._vae_factor = factor
            self.grid_changed.emit()
            self._validate_selection()

    def is_empty(self) -> bool:
        return self.image.isNull()

    def latent_size(self) -> tuple[int, int]:
        """(height, width) of the image's latent: whole VAE blocks only, as the engine encodes it."""
        if self.image.isNull():
            return 0, 0
        return self.image.height() // self._vae_factor, self.image.width() // self._vae_factor

    def grid_fits(self) -> bool:
        latent_h, latent_w = self.latent_size()
        return 1 <= self.grid_rows <= latent_h and 1 <= self.grid_cols <= latent_w

    # --- opening and replacing --------------------------------------------------------

    def open_image(self, path: str | Path | LoadedImage) -> None:
        """Open a user's image (any mode PIL reads); a fresh mask, no selection. Undoable.

        Raises BadInput for a missing or unreadable file, leaving the document as it was.
        `path` may also be what `load_image` returned on a worker thread.
        """
        loaded = path if isinstance(path, LoadedImage) else load_image(path)
        state = self._new_state(loaded, keep_mask=False)
        self.undo_stack.push(ReplaceImageCommand(self, state, f"Open {Path(loaded.path).name}"))
        self.clear_selection()

    def replace_image(self, path: str | Path | LoadedImage, text: str = "Keep result") -> None:
        """Swap in a result (a candidate, a compare side) for the current image. Undoable.

        The mask and selection stay when the size does, so one block can be resampled again.
        """
        loaded = path if isinstance(path, LoadedImage) else load_image(path)
        self.undo_stack.push(ReplaceImageCommand(self, self._new_state(loaded, keep_mask=True), text))

    def _new_state(self, loaded: LoadedImage, keep_mask: bool) -> _ImageState:
        image, seeds = loaded.image, loaded.grid_seeds
        rows, cols = (seeds.rows, seeds.cols) if seeds else self._preferred_grid
        if keep_mask and not self.mask.isNull() and self.mask.size() == image.size():
            mask = self.mask
        else:
            mask = _blank_mask(image.width(), image.height())
        return _ImageState(loaded.path, image, rows, cols, seeds, mask)

    def _state(self) -> _ImageState:
        return _ImageState(self.path, self.image, self.grid_rows, self.grid_cols, self.grid_seeds, self.mask)

    def _apply_state(self, state: _ImageState) -> None:
        grid_before = (self.grid_rows, self.grid_cols, self.grid_seeds)
        mask_before = self.mask
        self.path = state.path
        self.image = state.image
        self.grid_rows, self.grid_cols, self.grid_seeds = state.grid_rows, state.grid_cols, state.grid_seeds
        self.mask = state.mask
        self.image_changed.emit()
        if (self.grid_rows, self.grid_cols, self.grid_seeds) != grid_before:
            self.grid_changed.emit()
        if self.mask is not mask_before:
            self.mask_region_changed.emit(self.mask.rect())
            self.mask_changed.emit()
        self._validate_selection()

    # --- grid and selection -----------------------------------------------------------

    def set_grid(self, rows: int, cols: int) -> None:
        """Change the latent grid of an imported image. Undoable.

        A generated image's grid is fixed by its recorded seeds; changing it would make resampling
        disagree with how the image was made, so that is refused with BadInput.
        """
        rows, cols = int(rows), int(cols)
        if (rows, cols) == (self.grid_rows, self.grid_cols):
            return
        if self.has_seeds:
            raise BadInput(
                f"This image was generated with a {self.grid_rows}x{self.grid_cols} grid and its seeds are "
                "recorded per cell; resample it on that grid, or open a copy without metadata to choose another."
            )
        if not (1 <= rows <= MAX_GRID and 1 <= cols <= MAX_GRID):
            raise BadInput(f"A grid needs 1 to {MAX_GRID} rows and columns, got {rows}x{cols}.")
        latent_h, latent_w = self.latent_size()
        if not self.image.isNull() and (rows > latent_h or cols > latent_w):
            raise BadInput(
                f"A {rows}x{cols} grid is finer than this image's {latent_h}x{latent_w} latent; "
                f"use at most {latent_h}x{latent_w} cells."
            )
        self.undo_stack.push(GridCommand(self, (rows, cols)))

    def _apply_grid(self, rows: int, cols: int) -> None:
        self.grid_rows, self.grid_cols = rows, cols
        self._preferred_grid = (rows, cols)
        self.grid_changed.emit()
        self._validate_selection()

    def select_cell(self, row: int, col: int) -> None:
        """Select a block (not undoable: choosing what to edit changes nothing)."""
        cell = (int(row), int(col))
        if not (0 <= cell[0] < self.grid_rows and 0 <= cell[1] < self.grid_cols):
            raise IndexError(f"cell {cell} is outside the {self.grid_rows}x{self.grid_cols} grid")
        if cell != self.selected_cell:
            self.selected_cell = cell
            self.selection_changed.emit()

    def clear_selection(self) -> None:
        if self.selected_cell is not None:
            self.selected_cell = None
            self.selection_changed.emit()

    def _validate_selection(self) -> None:
        cell = self.selected_cell
        if cell is not None and (self.image.isNull() or not self.grid_fits()
                                 or cell[0] >= self.grid_rows or cell[1] >= self.grid_cols):
            self.clear_selection()

    def _edges(self) -> tuple[list[int], list[int]] | None:
        """Pixel edges of the grid's rows and columns, or None when there is no grid to show."""
        if self.image.isNull() or not self.grid_fits():
            return None
        latent_h, latent_w = self.latent_size()
        f = self._vae_factor
        ys = [start * f for start, _ in cell_bounds(latent_h, self.grid_rows)] + [latent_h * f]
        xs = [start * f for start, _ in cell_bounds(latent_w, self.grid_cols)] + [latent_w * f]
        return ys, xs

    def grid_edges(self) -> tuple[list[int], list[int]]:
        """(row edges, column edges) in image pixels: rows+1 and cols+1 values; empty without a grid."""
        return self._edges() or ([], [])

    def cell_rect(self, row: int, col: int) -> QRect:
        """Cell (row, col) in image pixels; an empty QRect when the grid does not fit the image."""
        if not (0 <= row < self.grid_rows and 0 <= col < self.grid_cols):
            raise IndexError(f"cell ({row}, {col}) is outside the {self.grid_rows}x{self.grid_cols} grid")
        edges = self._edges()
        if edges is None:
            return QRect()
        ys, xs = edges
        return QRect(xs[col], ys[row], xs[col + 1] - xs[col], ys[row + 1] - ys[row])

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The cell holding image pixel (x, y); None outside the grid (or the thin edge no cell covers)."""
        edges = self._edges()
        if edges is None:
            return None
        ys, xs = edges
        if not (0 <= x < xs[-1] and 0 <= y < ys[-1]):
            return None
        return bisect.bisect_right(ys, y) - 1, bisect.bisect_right(xs, x) - 1

    # --- mask -------------------------------------------------------------------------

    def mask_array(self) -> np.ndarray:
        """The mask as an HxW bool array (True = repaint), a copy the caller may keep."""
        if self.mask.isNull():
            return np.zeros((0, 0), dtype=bool)
        return _rows(self.mask) > 0

    def mask_is_empty(self) -> bool:
        return self.mask.isNull() or not _rows(self.mask).any()

    def mask_bounds(self) -> QRect:
        """The smallest rectangle holding every painted mask pixel (empty when none is)."""
        if self.mask.isNull():
            return QRect()
        rows = _rows(self.mask)
        ys = np.flatnonzero(rows.any(axis=1))
        if ys.size == 0:
            return QRect()
        xs = np.flatnonzero(rows.any(axis=0))
        return QRect(int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1))

    def clear_mask(self) -> None:
        """Erase the whole mask in one undoable step (nothing is pushed when it is already empty)."""
        rect = self.mask_bounds()
        if rect.isEmpty():
            return
        before = self.mask.copy(rect)
        after = _blank_mask(rect.width(), rect.height())
        self.undo_stack.push(MaskPatchCommand(self, rect, before, after, "Clear mask"))

    def _put_mask_patch(self, rect: QRect, patch: QImage) -> None:
        _write_patch(self.mask, rect, patch)
        self.mask_region_changed.emit(rect)
        self.mask_changed.emit()

    # --- brush strokes ----------------------------------------------------------------

    def begin_stroke(self, erase: bool, radius: float) -> None:
        """Start a brush (or eraser) stroke; every segment until end_stroke is one undo step."""
        if self.mask.isNull():
            return
        self._stroke_serial += 1
        self._stroke = _Stroke(self._stroke_serial, bool(erase), max(0.5, float(radius)))

    def stroke_to(self, point: QPointF) -> None:
        """Paint from the stroke's last point to `point` (image pixels); the first call paints a dot."""
        stroke = self._stroke
        if stroke is None or self.mask.isNull():
            return
        point = QPointF(point)
        start = stroke.last if stroke.last is not None else point
        r = stroke.radius
        rect = (QRectF(start, point).normalized().adjusted(-r - 2, -r - 2, r + 2, r + 2)
                .toAlignedRect().intersected(self.mask.rect()))
        stroke.last = point
        if rect.isEmpty():
            return
        before = self.mask.copy(rect)
        painter = QPainter(self.mask)
        painter.setRenderHint(QPainter.Antialiasing, False)  # a binary mask: no grey edges
        painter.setCompositionMode(QPainter.CompositionMode_Source)
        colour = QColor(0, 0, 0) if stroke.erase else QColor(255, 255, 255)
        if start == point:
            painter.setPen(Qt.NoPen)
            painter.setBrush(colour)
            painter.drawEllipse(point, r, r)
        else:
            painter.setPen(QPen(colour, 2 * r, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
            painter.drawLine(start, point)
        painter.end()
        after = self.mask.copy(rect)
        self.undo_stack.push(MaskStrokeCommand(self, rect, before, after, stroke.serial, stroke.erase))

    def end_stroke(self) -> None:
        self._stroke = None

    @property
    def stroking(self) -> bool:
        return self._stroke is not None

    # --- saving -----------------------------------------------------------------------

    def png_snapshot(self) -> tuple[str, QImage]:
        """(path, a deep copy of the image) for `save_png_copy` on a worker thread."""
        if self.image.isNull() or not self.path:
            raise BadInput("There is no image to save yet.")
        return self.path, self.image.copy()


def save_png_copy(source: str | Path, image: QImage, target: str | Path) -> Path:
    """`image` (the document at `source`) as a PNG at `target`, atomically; safe on a worker thread
    when `image` is not shared with the GUI thread.

    A PNG on disk is copied byte for byte, so its Latent Studio and A1111 metadata (seeds,
    prompt) travel with it; anything else (a dropped JPEG, TIFF, CMYK file) is written from
    the document's RGB pixels.
    """
    source = Path(source)
    target = Path(target)
    if _is_png(source):
        if source.resolve() == target.resolve():
            return target
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return target
    with atomic_path(target) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise WriteFailed(f"Could not write {target}. Check free space and permissions.")
    return target


def _is_png(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == PNG_MAGIC
    except OSError:
        return False


@dataclass
class _Stroke:
    serial: int
    erase: bool
    radius: float
    last: QPointF | None = None


# --- undo commands ---------------------------------------------------------------------------

class ReplaceImageCommand(QUndoCommand):
    """Swap the whole image state (path, pixels, grid, seeds, mask) for another."""

    def __init__(self, document: ImageDocument, new_state: _ImageState, text: str):
        super().__init__(text)
        self._document = document
        self._before = document._state()
        self._after = new_state

    def redo(self) -> None:
        self._document._apply_state(self._after)

    def undo(self) -> None:
        self._document._apply_state(self._before)


class GridCommand(QUndoCommand):
    def __init__(self, document: ImageDocument, grid: tuple[int, int]):
        super().__init__(f"Grid {grid[0]}×{grid[1]}")
        self._document = document
        self._before = (document.grid_rows, document.grid_cols)
        self._after = grid

    def redo(self) -> None:
        self._document._apply_grid(*self._after)

    def undo(self) -> None:
        self._document._apply_grid(*self._before)


class MaskPatchCommand(QUndoCommand):
    """A mask change kept as before/after copies of only the rectangle it touched."""

    def __init__(self, document: ImageDocument, rect: QRect, before: QImage, after: QImage, text: str):
        super().__init__(text)
        self._document = document
        self.rect = QRect(rect)
        self.before = before
        self.after = after

    def redo(self) -> None:
        self._document._put_mask_patch(self.rect, self.after)

    def undo(self) -> None:
        self._document._put_mask_patch(self.rect, self.before)


class MaskStrokeCommand(MaskPatchCommand):
    """One brush or eraser stroke; its segments merge while the stroke is being drawn."""

    ID = 0x6D61736B  # "mask"

    def __init__(self, document: ImageDocument, rect: QRect, before: QImage, after: QImage,
                 stroke: int, erase: bool):
        super().__init__(document, rect, before, after, "Erase mask" if erase else "Paint mask")
        self.stroke = stroke

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MaskStrokeCommand) or other.stroke != self.stroke:
            return False
        # QUndoStack merges right after `other` was applied, so the live mask is the state after
        # both; outside the two rectangles nothing changed, so it is also the state before there.
        union = self.rect.united(other.rect)
        mask = self._document.mask
        after = mask.copy(union)
        before = mask.copy(union)
        origin = union.topLeft()
        _write_patch(before, other.rect.translated(-origin), other.before)
        _write_patch(before, self.rect.translated(-origin), self.before)  # older wins where they overlap
        self.rect, self.before, self.after = union, before, after
        return True
