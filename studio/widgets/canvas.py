"""The canvas: the document's image with its latent grid, block selection and inpainting mask.

A `QGraphicsView` over one pixmap item; everything else (mask tint, grid, hovered and selected
cell, brush outline) is painted in `drawForeground`, so a 16x16 grid costs a few lines, not 256
items. Scene coordinates are image pixels. The view does no file or model work: drops and pastes
become signals, and the window decides what to open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal, Slot
from PySide6.QtGui import (
    QBrush, QColor, QCursor, QFont, QGuiApplication, QImage, QPainter, QPen, QPixmap,
    QTransform,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QToolTip

from studio.document import ImageDocument

BACKGROUND = QColor("#1e2027")
CHECKER_LIGHT = QColor("#2f323b")
CHECKER_DARK = QColor("#272a32")
ACCENT = QColor("#7aa2ff")
MASK_TINT = QColor(255, 40, 56, 130)
HINT_TEXT = QColor("#8a8f9c")

MIN_ZOOM = 1 / 64
MAX_ZOOM = 64.0
ZOOM_STEP = 1.25
MIN_BRUSH, MAX_BRUSH = 1, 1024
TOOLS = ("select", "brush", "eraser")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}

TOOLTIP = (
    "Wheel: zoom · Space-drag or middle-drag: pan · Ctrl+0 fit · Ctrl+1 100%\n"
    "G grid · V select · B brush · E eraser · [ ] brush size\n"
    "Click or arrows: select block · R resample · C compare · Ctrl+V paste"
)


def _checker_brush() -> QBrush:
    tile = QPixmap(16, 16)
    tile.fill(CHECKER_DARK)
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, CHECKER_LIGHT)
    painter.fillRect(8, 8, 8, 8, CHECKER_LIGHT)
    painter.end()
    return QBrush(tile)


def _cosmetic(colour: QColor, width: float) -> QPen:
    pen = QPen(colour, width)
    pen.setCosmetic(True)  # width in screen pixels at any zoom
    pen.setJoinStyle(Qt.MiterJoin)
    return pen


def _mask_colour_table() -> list[int]:
    table = [0] * 256  # 0 = untouched: fully transparent
    tint = QColor(MASK_TINT)
    for value in range(1, 256):
        tint.setAlpha(MASK_TINT.alpha() * value // 255)
        table[value] = tint.rgba()
    return table


class CanvasView(QGraphicsView):
    cell_selected = Signal(int, int)
    image_dropped = Signal(str)
    image_pasted = Signal(QImage)
    tool_changed = Signal(str)
    brush_size_changed = Signal(int)
    grid_visible_changed = Signal(bool)
    zoom_changed = Signal(float)

    def __init__(self, document: ImageDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self.setObjectName("CanvasView")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setShapeMode(QGraphicsPixmapItem.BoundingRectShape)
        self._scene.addItem(self._pixmap_item)

        self._zoom = 1.0
        self._fit_mode = True  # refit on resize until the user zooms
        self._grid_visible = True
        self._tool = "select"
        self._brush_size = 32
        self._hover_cell: tuple[int, int] | None = None
        self._cursor_scene: QPointF | None = None  # for the brush outline
        self._space_down = False
        self._pan_origin: QPoint | None = None
        self._painting = False
        self._image_size = None
        self._mask_overlay = QImage()
        self._mask_table = _mask_colour_table()
        self._checker = _checker_brush()

        self.setFrameShape(QFrame.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.NoAnchor)  # zoom anchors are handled here
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.MinimalViewportUpdate)
        self.setAlignment(Qt.AlignCenter)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAcceptDrops(True)
        self.viewport().setMouseTracking(True)
        self.viewport().setAttribute(Qt.WA_Hover, True)
        self.setToolTip(TOOLTIP)
        self._update_cursor()

        document.image_changed.connect(self._on_image_changed)
        document.mask_region_changed.connect(self._on_mask_region_changed)
        document.grid_changed.connect(self._refresh)
        document.selection_changed.connect(self._refresh)
        self._on_image_changed()

    # --- public API -----------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def grid_visible(self) -> bool:
        return self._grid_visible

    @Slot(bool)
    def set_grid_visible(self, visible: bool) -> None:
        visible = bool(visible)
        if visible != self._grid_visible:
            self._grid_visible = visible
            self.grid_visible_changed.emit(visible)
            self._refresh()

    @property
    def tool(self) -> str:
        return self._tool

    @Slot(str)
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; use one of {', '.join(TOOLS)}")
        if tool != self._tool:
            self._finish_stroke()
            self._tool = tool
            self._hover_cell = None
            self._update_cursor()
            self.tool_changed.emit(tool)
            self._refresh()

    @property
    def brush_size(self) -> int:
        """Brush diameter in image pixels."""
        return self._brush_size

    @brush_size.setter
    def brush_size(self, size: int) -> None:
        self.set_brush_size(size)

    @Slot(int)
    def set_brush_size(self, size: int) -> None:
        size = max(MIN_BRUSH, min(MAX_BRUSH, int(round(size))))
        if size != self._brush_size:
            self._refresh_brush_outline()
            self._brush_size = size
            self._refresh_brush_outline()
            self.brush_size_changed.emit(size)

    @Slot()
    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    @Slot()
    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    @Slot()
    def actual_size(self) -> None:
        self.set_zoom(1.0)

    @Slot()
    def fit(self) -> None:
        """Show the whole image, centred, with a small margin."""
        self._fit_mode = True
        if self.document.image.isNull():
            return
        view = self.viewport().rect()
        image = QRectF(self.document.image.rect())
        margin = 24
        scale = min(max(1, view.width() - 2 * margin) / image.width(),
                    max(1, view.height() - 2 * margin) / image.height())
        self._apply_zoom(max(MIN_ZOOM, min(MAX_ZOOM, scale)))
        self.centerOn(image.center())
        self._fit_mode = True

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom` (1.0 = 100%) keeping the image point under `anchor` (viewport px) in place."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, float(zoom)))
        anchor = QPointF(self.viewport().rect().center()) if anchor is None else QPointF(anchor)
        scene_point = self._scene_pos(anchor)
        self._fit_mode = False
        self._apply_zoom(zoom)
        moved = self.viewportTransform().map(scene_point) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(moved.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(moved.y()))

    def scroll_position(self) -> QPoint:
        return QPoint(self.horizontalScrollBar().value(), self.verticalScrollBar().value())

    def hovered_cell(self) -> tuple[int, int] | None:
        return self._hover_cell

    # --- document -> view ---------------------------------------------------------------

    @Slot()
    def _on_image_changed(self) -> None:
        image = self.document.image
        if image.isNull():
            self._pixmap_item.setPixmap(QPixmap())
            self._scene.setSceneRect(QRectF())
            self._image_size = None
            self._mask_overlay = QImage()
            self._refresh()
            return
        self._pixmap_item.setPixmap(QPixmap.fromImage(image))
        size_changed = image.size() != self._image_size
        self._image_size = image.size()
        # room to pan the image's edge to the middle of the view
        margin = max(image.width(), image.height())
        self._scene.setSceneRect(QRectF(image.rect()).adjusted(-margin, -margin, margin, margin))
        if size_changed:
            self._rebuild_mask_overlay()
            self.fit()
        self._refresh()

    def _rebuild_mask_overlay(self) -> None:
        mask = self.document.mask
        if mask.isNull():
            self._mask_overlay = QImage()
            return
        self._mask_overlay = self._tint(mask)

    def _tint(self, mask_part: QImage) -> QImage:
        """Greyscale mask pixels as a premultiplied red tint (alpha follows the mask)."""
        indexed = mask_part.copy()
        indexed.reinterpretAsFormat(QImage.Format_Indexed8)
        indexed.setColorTable(self._mask_table)
        return indexed.convertToFormat(QImage.Format_ARGB32_Premultiplied)

    @Slot(QRect)
    def _on_mask_region_changed(self, rect: QRect) -> None:
        mask = self.document.mask
        if mask.isNull() or self._mask_overlay.size() != mask.size() or rect == mask.rect():
            self._rebuild_mask_overlay()
            self._refresh()
            return
        rect = rect.intersected(mask.rect())
        if rect.isEmpty():
            return
        painter = QPainter(self._mask_overlay)
        painter.setCompositionMode(QPainter.CompositionMode_Source)
        painter.drawImage(rect.topLeft(), self._tint(mask.copy(rect)))
        painter.end()
        self._update_scene_rect(QRectF(rect))

    @Slot()
    def _refresh(self) -> None:
        self.viewport().update()

    def _update_scene_rect(self, rect: QRectF) -> None:
        if rect.isEmpty():
            return
        self.viewport().update(self.mapFromScene(rect).boundingRect().adjusted(-4, -4, 4, 4))

    def _cell_scene_rect(self, cell: tuple[int, int] | None) -> QRectF:
        if cell is None:
            return QRectF()
        try:
            return QRectF(self.document.cell_rect(*cell))
        except IndexError:
            return QRectF()

    def _apply_zoom(self, zoom: float) -> None:
        self._zoom = zoom
        self.setTransform(QTransform.fromScale(zoom, zoom))
        crisp = zoom >= 1.0  # magnified pixels stay square; reductions are smoothed
        self._pixmap_item.setTransformationMode(Qt.FastTransformation if crisp else Qt.SmoothTransformation)
        self.setRenderHint(QPainter.SmoothPixmapTransform, not crisp)
        self.zoom_changed.emit(zoom)
        self._refresh()

    # --- painting -------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, BACKGROUND)
        if self.document.image.isNull():
            return
        image_rect = QRectF(self.document.image.rect())
        painter.save()
        painter.resetTransform()  # checker squares and shadow in screen pixels, at any zoom
        on_screen = self.mapFromScene(image_rect).boundingRect()
        for spread, alpha in ((6, 18), (4, 28), (2, 44)):
            painter.fillRect(on_screen.adjusted(-spread, -spread + 2, spread, spread + 2), QColor(0, 0, 0, alpha))
        painter.setBrushOrigin(on_screen.topLeft())
        painter.fillRect(on_screen, self._checker)
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        doc = self.document
        if doc.image.isNull():
            self._draw_empty_hint(painter)
            return
        crisp = self._zoom >= 1.0
        painter.setRenderHint(QPainter.SmoothPixmapTransform, not crisp)
        visible = rect.intersected(QRectF(doc.image.rect()))
        if not self._mask_overlay.isNull() and not visible.isEmpty():
            source = visible.toAlignedRect().intersected(self._mask_overlay.rect())
            painter.drawImage(QRectF(source), self._mask_overlay, QRectF(source))
        if self._grid_visible:
            self._draw_grid(painter)
        if self._hover_cell is not None and self._tool == "select" and self._hover_cell != doc.selected_cell:
            cell = self._cell_scene_rect(self._hover_cell)
            if not cell.isEmpty():
                painter.fillRect(cell, QColor(255, 255, 255, 26))
                painter.setPen(_cosmetic(QColor(255, 255, 255, 150), 1))
                painter.setBrush(Qt.NoBrush)
                painter.drawRect(cell)
        if doc.selected_cell is not None:
            self._draw_selection(painter, doc.selected_cell)
        if self._tool != "select" and self._cursor_scene is not None:
            self._draw_brush_outline(painter, self._cursor_scene)

    def _draw_grid(self, painter: QPainter) -> None:
        ys, xs = self.document.grid_edges()
        if not ys:
            return
        image = self.document.image
        # the thin edge no latent cell covers (sizes not divisible by the VAE factor) is dimmed
        if xs[-1] < image.width():
            painter.fillRect(QRectF(xs[-1], 0, image.width() - xs[-1], image.height()), QColor(0, 0, 0, 90))
        if ys[-1] < image.height():
            painter.fillRect(QRectF(0, ys[-1], xs[-1], image.height() - ys[-1]), QColor(0, 0, 0, 90))
        lines = [(QPointF(x, ys[0]), QPointF(x, ys[-1])) for x in xs]
        lines += [(QPointF(xs[0], y), QPointF(xs[-1], y)) for y in ys]
        painter.setBrush(Qt.NoBrush)
        for pen in (_cosmetic(QColor(0, 0, 0, 80), 3), _cosmetic(QColor(255, 255, 255, 110), 1)):
            painter.setPen(pen)
            for start, end in lines:
                painter.drawLine(start, end)

    def _draw_selection(self, painter: QPainter, cell: tuple[int, int]) -> None:
        rect = self._cell_scene_rect(cell)
        if rect.isEmpty():
            return
        painter.fillRect(rect, QColor(ACCENT.red(), ACCENT.green(), ACCENT.blue(), 40))
        # white on a dark halo reads on any picture (an accent-coloured line vanishes on a blue sky)
        painter.setBrush(Qt.NoBrush)
        painter.setPen(_cosmetic(QColor(8, 10, 16, 230), 4))
        painter.drawRect(rect)
        painter.setPen(_cosmetic(QColor(255, 255, 255), 2))
        painter.drawRect(rect)
        # a small label in screen pixels, inside the cell's top-left corner
        on_screen = self.mapFromScene(rect).boundingRect()
        label = f"{cell[0]},{cell[1]}"
        painter.save()
        painter.resetTransform()
        font = QFont(self.font())
        font.setPixelSize(11)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        box = QRectF(on_screen.left() + 4, on_screen.top() + 4, metrics.horizontalAdvance(label) + 10,
                     metrics.height() + 2)
        if box.width() + 8 < on_screen.width() and box.height() + 8 < on_screen.height():
            painter.setRenderHint(QPainter.Antialiasing, True)
            painter.setPen(Qt.NoPen)
            painter.setBrush(ACCENT)
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(QColor("#0d0f14"))
            painter.drawText(box, Qt.AlignCenter, label)
        painter.restore()

    def _draw_brush_outline(self, painter: QPainter, centre: QPointF) -> None:
        radius = self._brush_size / 2
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setBrush(Qt.NoBrush)
        painter.setPen(_cosmetic(QColor(0, 0, 0, 160), 3))
        painter.drawEllipse(centre, radius, radius)
        colour = QColor(255, 255, 255, 220) if self._tool == "brush" else QColor(255, 190, 120, 230)
        pen = _cosmetic(colour, 1)
        if self._tool == "eraser":
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.drawEllipse(centre, radius, radius)
        painter.restore()

    def _draw_empty_hint(self, painter: QPainter) -> None:
        painter.save()
        painter.resetTransform()
        area = QRectF(self.viewport().rect())
        font = QFont(self.font())
        font.setPixelSize(15)
        painter.setFont(font)
        painter.setPen(HINT_TEXT)
        painter.drawText(area, Qt.AlignCenter,
                         "Generate an image, open one (Ctrl+O),\ndrop one here or paste one (Ctrl+V)")
        painter.restore()

    def _brush_outline_rect(self) -> QRectF:
        if self._cursor_scene is None:
            return QRectF()
        r = self._brush_size / 2 + 2 / max(self._zoom, 1e-6)
        return QRectF(self._cursor_scene.x() - r, self._cursor_scene.y() - r, 2 * r, 2 * r)

    def _refresh_brush_outline(self) -> None:
        if self._tool != "select":
            self._update_scene_rect(self._brush_outline_rect())

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.viewport().update()  # screen-space decorations (checker, labels) do not scroll with pixels

    # --- mouse ----------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        if event.button() == Qt.MiddleButton or (event.button() == Qt.LeftButton and self._space_down):
            self._pan_origin = pos.toPoint()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        if event.button() != Qt.LeftButton or self.document.image.isNull():
            super().mousePressEvent(event)
            return
        scene = self._scene_pos(pos)
        if self._tool == "select":
            cell = self.document.cell_at(scene.x(), scene.y())
            if cell is None:
                self.document.clear_selection()
            else:
                self._select(cell)
        else:
            self._painting = True
            self.document.begin_stroke(erase=self._tool == "eraser", radius=self._brush_size / 2)
            self.document.stroke_to(scene)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._pan_origin is not None:
            delta = pos.toPoint() - self._pan_origin
            self._pan_origin = pos.toPoint()
            self._fit_mode = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        scene = self._scene_pos(pos)
        self._track_cursor(scene)
        if self._painting:
            self.document.stroke_to(scene)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_origin is not None and event.button() in (Qt.LeftButton, Qt.MiddleButton):
            self._pan_origin = None
            self._update_cursor()
            event.accept()
            return
        if self._painting and event.button() == Qt.LeftButton:
            self._finish_stroke()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _scene_pos(self, pos: QPointF) -> QPointF:
        # mapToScene(QPointF) keeps sub-pixel precision, so brush dots land where the cursor is
        return self.viewportTransform().inverted()[0].map(QPointF(pos))

    def _track_cursor(self, scene: QPointF | None) -> None:
        hover = None if scene is None else self.document.cell_at(scene.x(), scene.y())
        if hover != self._hover_cell:
            old = self._hover_cell
            self._hover_cell = hover
            if self._tool == "select":
                self._update_scene_rect(self._cell_scene_rect(old))
                self._update_scene_rect(self._cell_scene_rect(hover))
        if self._tool != "select":
            self._refresh_brush_outline()
            self._cursor_scene = scene
            self._refresh_brush_outline()
        else:
            self._cursor_scene = scene

    def _finish_stroke(self) -> None:
        if self._painting:
            self._painting = False
            self.document.end_stroke()

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Leave:
            self._track_cursor(None)
        elif event.type() == QEvent.ToolTip:
            QToolTip.showText(event.globalPos(), self._tooltip_text(), self.viewport())
            return True
        return super().viewportEvent(event)

    def _tooltip_text(self) -> str:
        if self.document.image.isNull():
            return "Drop or paste (Ctrl+V) an image, or generate one"
        if self._tool != "select":
            name = "Brush" if self._tool == "brush" else "Eraser"
            return f"{name} {self._brush_size} px — [ ] size · B brush · E eraser · V select"
        if self._hover_cell is not None:
            row, col = self._hover_cell
            return f"Block {row},{col} — click to select · R resample · C compare · G grid"
        return TOOLTIP

    def wheelEvent(self, event) -> None:
        if self.document.image.isNull():
            return
        pixel = event.pixelDelta()
        if not pixel.isNull() and not (event.modifiers() & Qt.ControlModifier):
            # a touchpad's two-finger scroll pans; a wheel (or pinch with Ctrl) zooms
            self._fit_mode = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - pixel.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - pixel.y())
            event.accept()
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self._zoom * ZOOM_STEP ** steps, anchor=event.position())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    # --- keyboard -------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        # Commands with keys (tools, grid, zoom, brush size, resample, compare, paste) are the
        # window's QActions, one route each, listed in Help > Keyboard shortcuts. The canvas keeps
        # only keys that act on the pointer or the block selection.
        key = event.key()
        chord = bool(event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier))
        if chord:
            super().keyPressEvent(event)
            return
        if key == Qt.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = True
                self._update_cursor()
        elif key in (Qt.Key_Left, Qt.Key_Right, Qt.Key_Up, Qt.Key_Down):
            self._move_selection(key)
        elif key == Qt.Key_Escape and self.document.selected_cell is not None:
            self.document.clear_selection()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if self._pan_origin is None:
                self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space_down = False
        self._pan_origin = None
        self._finish_stroke()
        self._update_cursor()
        super().focusOutEvent(event)

    def _move_selection(self, key) -> None:
        doc = self.document
        if doc.image.isNull() or not doc.grid_fits():
            return
        current = doc.selected_cell
        if current is None:
            self._select(self._hover_cell or (0, 0))
            return
        row, col = current
        row += {Qt.Key_Up: -1, Qt.Key_Down: 1}.get(key, 0)
        col += {Qt.Key_Left: -1, Qt.Key_Right: 1}.get(key, 0)
        self._select((min(max(row, 0), doc.grid_rows - 1), min(max(col, 0), doc.grid_cols - 1)))

    def _select(self, cell: tuple[int, int]) -> None:
        self.document.select_cell(*cell)
        self.cell_selected.emit(*cell)

    def _update_cursor(self) -> None:
        if self._pan_origin is not None:
            shape = Qt.ClosedHandCursor
        elif self._space_down:
            shape = Qt.OpenHandCursor
        elif self._tool == "select":
            shape = Qt.ArrowCursor
        else:
            shape = Qt.CrossCursor
        self.viewport().setCursor(QCursor(shape))

    # --- drag and drop, paste ---------------------------------------------------------------

    @staticmethod
    def _dropped_path(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
                return url.toLocalFile()
        return None

    def _accepts(self, mime) -> bool:
        return self._dropped_path(mime) is not None or mime.hasImage()

    def dragEnterEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        event.accept()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        path = self._dropped_path(mime)
        if path is not None:
            event.acceptProposedAction()
            self.image_dropped.emit(path)
        elif mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                event.acceptProposedAction()
                self.image_pasted.emit(image)
                return
            event.ignore()
        else:
            event.ignore()

    @Slot()
    def paste(self) -> None:
        """Ctrl+V: an image on the clipboard becomes `image_pasted`, a copied image file `image_dropped`."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.image_pasted.emit(image)
                return
        path = self._dropped_path(mime)
        if path is not None:
            self.image_dropped.emit(path)
