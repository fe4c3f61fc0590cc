"""CompareView: block resampling against inpainting of the same block, pictures and measures.

Side by side (original | resample | inpaint) or a split view (original left of a draggable
divider, the chosen result right of it); a heatmap toggle swaps the results for their
|difference| heatmaps. Small results (64 x 64) are enlarged nearest-neighbour so pixels stay
pixels. The measures table bolds the better result per measure. The view only shows what the
window hands it and emits `keep_requested(path)` / `closed()`; the pictures are decoded on a worker
thread (DESIGN section 11), and a failure there is reported by `failed(message)`.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QKeyEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView, QButtonGroup, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSizePolicy, QSlider,
    QStackedWidget, QStyle, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout, QWidget,
)

from studio.background import BackgroundCalls
from studio.icons import icon
from studio.images import read_image as _read_image  # a module name, so tests can wrap the decoder

ACCENT = QColor("#7aa2ff")

# (key, decimals, which is better: "lower" | "higher" | None, one-sentence explanation)
MEASURES: tuple[tuple[str, int, str | None, str], ...] = (
    ("distortion_radial", 4, "lower",
     "Mean change outside the block, weighted up with distance from it (full weight one fall-off radius "
     "away): how far the edit leaked; lower is better."),
    ("change_inside", 4, None,
     "Mean absolute change inside the block: how much the edit actually changed what you asked it to change."),
    ("mse_inside", 4, None,
     "Mean squared change inside the block; like change_inside but weighs big changes more."),
    ("mse_outside", 4, "lower",
     "Mean squared change everywhere outside the block; lower means less collateral change."),
    ("ssim_outside", 4, "higher",
     "Structural similarity (SSIM) to the original at least one fall-off radius away from the block; "
     "1 is identical, higher is better."),
    ("seam", 4, "lower",
     "Mean gradient of the change in a 4 px ring on both sides of the block's edge; it also counts the "
     "change a resample makes on purpose in its fall-off ring; lower is better."),
    ("seam_step", 4, "lower",
     "Mean gradient of the change in a 2 px band on both sides of the block's edge: a step where the "
     "edit meets the original (a hard paste-back) shows, a smooth fall-off hardly does; lower is better."),
    ("seconds", 2, "lower",
     "Wall time of denoising and decoding, model loading excluded; lower is faster."),
)
MEASURE_KEYS = tuple(key for key, *_ in MEASURES)
RESULTS = ("resample", "inpaint")
MODES = ("side", "split")


def _read_comparison(paths: dict[str, str], heatmap_paths: tuple) -> tuple[dict[str, QImage], dict[str, QImage]]:
    """The pictures and heatmaps by slot; a worker's job. Unreadable files come back as null images."""
    images = {name: _read_image(path) for name, path in paths.items()}
    heatmaps = {name: _read_image(heatmap_paths[i] if i < len(heatmap_paths) else None)
                for i, name in enumerate(RESULTS)}
    return images, heatmaps


def _fit(size: QSize, box: QRectF) -> QRectF:
    """`size` fitted into `box`, centred; enlargements snap to a whole factor so pixels stay square."""
    if size.isEmpty() or box.isEmpty():
        return QRectF()
    scale = min(box.width() / size.width(), box.height() / size.height())
    if scale >= 2.0:
        scale = math.floor(scale)
    width, height = size.width() * scale, size.height() * scale
    return QRectF(box.center().x() - width / 2, box.center().y() - height / 2, width, height)


def _map_rect(rect: QRect, image_size: QSize, target: QRectF) -> QRectF:
    """An image-pixel rectangle in widget coordinates, for an image drawn into `target`."""
    sx = target.width() / image_size.width()
    sy = target.height() / image_size.height()
    return QRectF(target.left() + rect.x() * sx, target.top() + rect.y() * sy, rect.width() * sx, rect.height() * sy)


def _draw_image(painter: QPainter, target: QRectF, image: QImage) -> None:
    # Nearest-neighbour when enlarging (crisp pixels), smooth when shrinking (no aliasing).
    painter.setRenderHint(QPainter.SmoothPixmapTransform, target.width() < image.width())
    painter.drawImage(target, image)


def _draw_block(painter: QPainter, rect: QRect, image: QImage, target: QRectF) -> None:
    if rect.isNull() or not rect.isValid() or image.isNull():
        return
    outline = _map_rect(rect, image.size(), target).adjusted(-0.5, -0.5, 0.5, 0.5)
    painter.setRenderHint(QPainter.Antialiasing, False)
    painter.setBrush(Qt.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 160), 3.0))  # a dark halo keeps the outline visible on light pixels
    painter.drawRect(outline)
    painter.setPen(QPen(ACCENT, 1.5))
    painter.drawRect(outline)


def _draw_missing(painter: QPainter, box: QRectF, palette: QPalette, text: str) -> None:
    painter.setPen(QPen(palette.color(QPalette.Mid), 1.0, Qt.DashLine))
    painter.setBrush(Qt.NoBrush)
    painter.drawRect(box.adjusted(8, 8, -8, -8))
    painter.setPen(palette.color(QPalette.PlaceholderText))
    painter.drawText(box, Qt.AlignCenter | Qt.TextWordWrap, text)


class ImagePane(QWidget):
    """One labelled picture, fitted to the pane, with the block outlined."""

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.image = QImage()
        self.block = QRect()
        self.missing_text = ""
        self.setMinimumSize(96, 96)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_image(self, image: QImage, title: str, block: QRect, missing_text: str = "") -> None:
        self.image, self.title, self.block, self.missing_text = image, title, QRect(block), missing_text
        self.setAccessibleName(title)
        self.update()

    def image_rect(self) -> QRectF:
        """Where the picture is drawn, in widget coordinates (empty when there is none)."""
        return _fit(self.image.size(), self._picture_box()) if not self.image.isNull() else QRectF()

    def _picture_box(self) -> QRectF:
        title_height = self.fontMetrics().height() + 8
        return QRectF(self.rect()).adjusted(4, title_height, -4, -4)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        palette = self.palette()
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(palette.color(QPalette.WindowText))
        painter.drawText(QRectF(0, 2, self.width(), self.fontMetrics().height() + 4), Qt.AlignCenter, self.title)
        box = self._picture_box()
        if self.image.isNull():
            _draw_missing(painter, box, palette, self.missing_text or "No image")
            return
        target = self.image_rect()
        _draw_image(painter, target, self.image)
        _draw_block(painter, self.block, self.image, target)


class SplitView(QWidget):
    """The original left of a draggable vertical divider, a result right of it.

    `position` is the divider's place as a fraction of the picture's width (0: all result,
    1: all original). Drag anywhere on the picture, or use the arrow keys when focused.
    """

    position_changed = Signal(float)
    picture_moved = Signal()  # the picture's rectangle changed (resize, new images)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.left = QImage()
        self.right = QImage()
        self.left_title = "Original"
        self.right_title = ""
        self.block = QRect()
        self._position = 0.5
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setCursor(Qt.SplitHCursor)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setToolTip("Drag to move the divider: original on the left, the result on the right")

    def set_images(self, left: QImage, right: QImage, right_title: str, block: QRect) -> None:
        self.left, self.right, self.right_title, self.block = left, right, right_title, QRect(block)
        self.update()
        self.picture_moved.emit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.picture_moved.emit()

    def position(self) -> float:
        return self._position

    def set_position(self, position: float) -> None:
        position = min(1.0, max(0.0, float(position)))
        if position != self._position:
            self._position = position
            self.position_changed.emit(position)
            self.update()

    def image_rect(self) -> QRectF:
        image = self.left if not self.left.isNull() else self.right
        if image.isNull():
            return QRectF()
        title_height = self.fontMetrics().height() + 8
        return _fit(image.size(), QRectF(self.rect()).adjusted(4, title_height, -4, -4))

    def divider_x(self) -> float:
        target = self.image_rect()
        return target.left() + self._position * target.width()

    def _position_at(self, x: float) -> None:
        target = self.image_rect()
        if target.width() > 0:
            self.set_position((x - target.left()) / target.width())

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.LeftButton:
            self._position_at(event.position().x())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.buttons() & Qt.LeftButton:
            self._position_at(event.position().x())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        step = 0.1 if event.modifiers() & Qt.ShiftModifier else 0.02
        if event.key() == Qt.Key_Left:
            self.set_position(self._position - step)
        elif event.key() == Qt.Key_Right:
            self.set_position(self._position + step)
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        palette = self.palette()
        target = self.image_rect()
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        title_rect = QRectF(target.left(), 2, max(target.width(), 1.0), self.fontMetrics().height() + 4)
        if target.isEmpty():
            _draw_missing(painter, QRectF(self.rect()), palette, "No images")
            return
        painter.setPen(palette.color(QPalette.WindowText))
        painter.drawText(title_rect, Qt.AlignLeft | Qt.AlignVCenter, f"◀ {self.left_title}")
        painter.drawText(title_rect, Qt.AlignRight | Qt.AlignVCenter, f"{self.right_title} ▶")
        x = self.divider_x()
        for image, clip in ((self.left, QRectF(target.left(), target.top(), x - target.left(), target.height())),
                            (self.right, QRectF(x, target.top(), target.right() - x, target.height()))):
            if clip.width() <= 0:
                continue
            painter.save()
            painter.setClipRect(clip)
            if image.isNull():
                painter.fillRect(clip, palette.color(QPalette.Base))
            else:
                _draw_image(painter, target, image)
            painter.restore()
        _draw_block(painter, self.block, self.left if not self.left.isNull() else self.right, target)
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setPen(QPen(QColor(0, 0, 0, 140), 3.0))
        painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        painter.setPen(QPen(ACCENT, 1.5))
        painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        handle = QRectF(x - 6, target.center().y() - 14, 12, 28)
        painter.setBrush(QBrush(ACCENT))
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1.0))
        painter.drawRoundedRect(handle, 4, 4)


class CompareView(QWidget):
    """Resample against inpaint of one block: pictures, |difference| heatmaps, measures, keep buttons."""

    keep_requested = Signal(str)
    closed = Signal()
    failed = Signal(str)  # the pictures could not be decoded (out of memory, ...)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("CompareView")
        # Mode and toggle buttons must read as "on" under any style, not only the app's stylesheet.
        self.setStyleSheet("QToolButton:checked { background: #2f3b55; border: 1px solid #7aa2ff; "
                           "border-radius: 4px; }")
        self._paths: dict[str, str] = {"original": "", "resample": "", "inpaint": ""}
        self._images: dict[str, QImage] = {}
        self._heatmaps: dict[str, QImage] = {}
        self._block = QRect()
        self._metrics: dict[str, dict] = {"resample": {}, "inpaint": {}}
        # a newer comparison supersedes the decoding of an older one
        self._decoder = BackgroundCalls(latest_only=True, parent=self)

        # --- controls
        self.side_button = self._tool("Side by side", "Original | resample | inpaint", checkable=True)
        self.split_button = self._tool("Split", "Original left of a divider, a result right of it", checkable=True)
        self.mode_group = QButtonGroup(self)
        self.mode_group.setExclusive(True)
        for button in (self.side_button, self.split_button):
            self.mode_group.addButton(button)
        self.side_button.setChecked(True)
        self.mode_group.buttonToggled.connect(self._on_mode_toggled)

        self.split_resample_button = self._tool("Resample", "Split view: compare with the resampled block",
                                                checkable=True, icon_name="resample")
        self.split_inpaint_button = self._tool("Inpaint", "Split view: compare with the inpainted block",
                                               checkable=True, icon_name="inpaint")
        self.result_group = QButtonGroup(self)
        self.result_group.setExclusive(True)
        for button in (self.split_resample_button, self.split_inpaint_button):
            self.result_group.addButton(button)
        self.split_resample_button.setChecked(True)
        self.result_group.buttonToggled.connect(lambda *_: self._refresh())

        self.heatmap_button = self._tool("Heatmap", "Show |result − original| heatmaps instead of the results",
                                         checkable=True, icon_name="heatmap")
        self.heatmap_button.toggled.connect(lambda *_: self._refresh())

        self.keep_resample_button = QPushButton(icon("keep"), "Keep resample")
        self.keep_resample_button.setToolTip("Replace the image with the resampled result")
        self.keep_resample_button.clicked.connect(lambda: self._keep("resample"))
        self.keep_inpaint_button = QPushButton(icon("keep"), "Keep inpaint")
        self.keep_inpaint_button.setToolTip("Replace the image with the inpainted result")
        self.keep_inpaint_button.clicked.connect(lambda: self._keep("inpaint"))
        self.close_button = QPushButton(icon("cancel"), "Close")
        self.close_button.setToolTip("Back to the canvas, keeping the image as it is (Esc)")
        self.close_button.clicked.connect(self.closed.emit)

        # --- pictures
        self.original_pane = ImagePane("Original")
        self.resample_pane = ImagePane("Resample")
        self.inpaint_pane = ImagePane("Inpaint")
        side_page = QWidget()
        side_layout = QHBoxLayout(side_page)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(8)
        for pane in (self.original_pane, self.resample_pane, self.inpaint_pane):
            side_layout.addWidget(pane, 1)

        self.split_view = SplitView()
        self.split_slider = QSlider(Qt.Horizontal)
        self.split_slider.setRange(0, 1000)
        self.split_slider.setValue(500)
        self.split_slider.setToolTip("Divider position")
        self.split_slider.valueChanged.connect(lambda value: self.split_view.set_position(value / 1000))
        self.split_view.position_changed.connect(self._on_split_moved)
        self.split_view.picture_moved.connect(self._align_slider)
        split_page = QWidget()
        split_layout = QVBoxLayout(split_page)
        split_layout.setContentsMargins(0, 0, 0, 0)
        split_layout.addWidget(self.split_view, 1)
        self._slider_row = QHBoxLayout()
        self._slider_row.addWidget(self.split_slider)
        split_layout.addLayout(self._slider_row)

        self.pages = QStackedWidget()
        self.pages.addWidget(side_page)
        self.pages.addWidget(split_page)

        self.legend = QLabel("Heatmap: black = unchanged, bright yellow = mean |difference| of 0.25 or more")
        self.legend.setAlignment(Qt.AlignCenter)
        self.legend.setVisible(False)
        legend_palette = self.legend.palette()
        dimmed = legend_palette.color(QPalette.WindowText)
        dimmed.setAlpha(170)
        legend_palette.setColor(QPalette.WindowText, dimmed)
        self.legend.setPalette(legend_palette)

        # --- measures
        self.measures_table = QTableWidget(len(MEASURES), 2)
        self.measures_table.setObjectName("measuresTable")
        self.measures_table.setHorizontalHeaderLabels(["Resample", "Inpaint"])
        self.measures_table.horizontalHeaderItem(0).setToolTip("Block resampling with a radial change map")
        self.measures_table.horizontalHeaderItem(1).setToolTip("Inpainting of the same block, same seed")
        for row, (key, _, better, tip) in enumerate(MEASURES):
            arrow = {"lower": "  ↓", "higher": "  ↑"}.get(better, "")
            header = QTableWidgetItem(key + arrow)
            header.setToolTip(tip)
            header.setTextAlignment(Qt.AlignLeft | Qt.AlignVCenter)
            self.measures_table.setVerticalHeaderItem(row, header)
        self.measures_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.measures_table.setSelectionMode(QAbstractItemView.NoSelection)
        self.measures_table.setFocusPolicy(Qt.NoFocus)
        self.measures_table.setAlternatingRowColors(True)
        self.measures_table.setShowGrid(False)
        self.measures_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.measures_table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.measures_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        self.measures_table.setToolTip("Bold: the better result for that measure (↓ lower is better, ↑ higher)")
        self._fit_table_height()
        self.measures_table.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.measures_table.setMinimumWidth(380)
        self.measures_table.setMaximumWidth(560)

        # --- layout
        controls = QHBoxLayout()
        controls.setSpacing(4)
        controls.addWidget(self.side_button)
        controls.addWidget(self.split_button)
        controls.addSpacing(12)
        controls.addWidget(self.split_resample_button)
        controls.addWidget(self.split_inpaint_button)
        controls.addSpacing(12)
        controls.addWidget(self.heatmap_button)
        controls.addStretch(1)
        controls.addWidget(self.keep_resample_button)
        controls.addWidget(self.keep_inpaint_button)
        controls.addSpacing(8)
        controls.addWidget(self.close_button)

        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.measures_table, 2)
        bottom.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(controls)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.legend)
        layout.addLayout(bottom)
        self._refresh()

    def _tool(self, text: str, tip: str, checkable: bool = False, icon_name: str | None = None) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(False)
        if icon_name:
            button.setIcon(icon(icon_name))
            button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        return button

    def _fit_table_height(self) -> None:
        table = self.measures_table
        rows = len(MEASURES) * table.verticalHeader().defaultSectionSize()
        table.setFixedHeight(table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth() + 2)

    # --- public API ------------------------------------------------------------------------

    def show_comparison(self, original_path: str, resample_path: str, inpaint_path: str, resample_metrics: dict,
                        inpaint_metrics: dict, heatmap_paths: tuple[str, str] | tuple = (),
                        block_rect: QRect = QRect()) -> None:
        """Show a finished comparison: the three pictures, the two heatmaps and both sets of measures.

        `heatmap_paths` is (resample heatmap, inpaint heatmap); `block_rect` is the block in image
        pixels (an empty QRect draws no outline). The measures show at once, the pictures once a
        worker has decoded them (`is_loading()` until then).
        """
        self._paths = {"original": str(original_path or ""), "resample": str(resample_path or ""),
                       "inpaint": str(inpaint_path or "")}
        self._block = QRect(block_rect) if block_rect is not None else QRect()
        self._metrics = {"resample": dict(resample_metrics or {}), "inpaint": dict(inpaint_metrics or {})}
        self.keep_resample_button.setEnabled(bool(self._paths["resample"]))
        self.keep_inpaint_button.setEnabled(bool(self._paths["inpaint"]))
        self._fill_table()
        self._images, self._heatmaps = {}, {}
        self._decoder.call(partial(_read_comparison, dict(self._paths), tuple(heatmap_paths or ())),
                           lambda pictures: self._on_decoded(*pictures), self._on_decode_failed)
        self._refresh()  # "Loading…" until the pictures come

    def is_loading(self) -> bool:
        """Whether the pictures of the latest comparison are still being decoded."""
        return self._decoder.pending()

    def mode(self) -> str:
        """"side" (side by side) or "split"."""
        return "split" if self.split_button.isChecked() else "side"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        (self.split_button if mode == "split" else self.side_button).setChecked(True)

    def split_result(self) -> str:
        """Which result the split view shows right of the divider: "resample" or "inpaint"."""
        return "inpaint" if self.split_inpaint_button.isChecked() else "resample"

    def set_split_result(self, name: str) -> None:
        if name not in RESULTS:
            raise ValueError(f"result must be one of {RESULTS}, got {name!r}")
        (self.split_inpaint_button if name == "inpaint" else self.split_resample_button).setChecked(True)

    def heatmap_shown(self) -> bool:
        return self.heatmap_button.isChecked()

    def set_heatmap_shown(self, shown: bool) -> None:
        self.heatmap_button.setChecked(bool(shown) and self.heatmap_button.isEnabled())

    def set_split_position(self, position: float) -> None:
        self.split_view.set_position(position)

    def shown_images(self) -> dict[str, QImage]:
        """What the pictures show now, by slot: original, resample, inpaint (heatmaps when toggled)."""
        return {"original": self._images.get("original", QImage()),
                **{name: self._result_image(name) for name in RESULTS}}

    # --- internals -------------------------------------------------------------------------

    def _on_decoded(self, images: dict[str, QImage], heatmaps: dict[str, QImage]) -> None:
        self._images, self._heatmaps = images, heatmaps
        has_heatmaps = any(not image.isNull() for image in heatmaps.values())
        self.heatmap_button.setEnabled(has_heatmaps)
        if not has_heatmaps:
            self.heatmap_button.setChecked(False)
        self._refresh()

    def _on_decode_failed(self, message: str) -> None:
        self._refresh()  # the panes now say which files could not be read
        self.failed.emit(message)

    def _result_image(self, name: str) -> QImage:
        source = self._heatmaps if self.heatmap_shown() else self._images
        return source.get(name, QImage())

    def _title(self, name: str) -> str:
        base = name.capitalize()
        return f"{base} |difference|" if self.heatmap_shown() else base

    def _missing(self, name: str) -> str:
        if self.is_loading():
            return "Loading…"
        if self.heatmap_shown():
            return f"No {name} heatmap"
        path = self._paths.get(name, "")
        return f"Cannot read {Path(path).name}" if path else f"No {name} result"

    @Slot()
    def _refresh(self) -> None:
        split = self.mode() == "split"
        self.pages.setCurrentIndex(1 if split else 0)
        for button in (self.split_resample_button, self.split_inpaint_button):
            button.setVisible(split)  # only the split view has a "chosen result"
        self.legend.setVisible(self.heatmap_shown())
        original = self._images.get("original", QImage())
        self.original_pane.set_image(original, "Original", self._block,
                                     self._missing("original") if self._paths.get("original") else "No original")
        self.resample_pane.set_image(self._result_image("resample"), self._title("resample"), self._block,
                                     self._missing("resample"))
        self.inpaint_pane.set_image(self._result_image("inpaint"), self._title("inpaint"), self._block,
                                    self._missing("inpaint"))
        chosen = self.split_result()
        self.split_view.set_images(original, self._result_image(chosen), self._title(chosen), self._block)

    @Slot(object, bool)
    def _on_mode_toggled(self, button, checked: bool) -> None:
        if checked:
            self._refresh()

    @Slot()
    def _align_slider(self) -> None:
        # The slider spans the picture, so its handle sits under the divider.
        picture = self.split_view.image_rect()
        if picture.isEmpty():
            self._slider_row.setContentsMargins(0, 0, 0, 0)
            return
        handle = self.split_slider.style().pixelMetric(QStyle.PM_SliderLength, None, self.split_slider) // 2
        left = max(0, int(picture.left()) - handle)
        right = max(0, self.split_view.width() - int(picture.right()) - handle)
        self._slider_row.setContentsMargins(left, 0, right, 0)

    @Slot(float)
    def _on_split_moved(self, position: float) -> None:
        value = int(round(position * 1000))
        if self.split_slider.value() != value:
            self.split_slider.blockSignals(True)
            self.split_slider.setValue(value)
            self.split_slider.blockSignals(False)

    def _keep(self, name: str) -> None:
        path = self._paths.get(name)
        if path:
            self.keep_requested.emit(path)

    def _fill_table(self) -> None:
        table = self.measures_table
        for row, (key, decimals, better, tip) in enumerate(MEASURES):
            values = [_number(self._metrics[name].get(key)) for name in RESULTS]
            texts = [f"{v:.{decimals}f}" if v is not None else "—" for v in values]
            best = _better(values, texts, better)
            for col, (value, text) in enumerate(zip(values, texts)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                item.setData(Qt.UserRole, value)
                font = QFont(table.font())
                font.setBold(col == best)
                item.setFont(font)
                if col == best:
                    item.setForeground(ACCENT)
                item.setToolTip(tip if value is not None else f"{tip} (undefined for this block)")
                table.setItem(row, col, item)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key_Escape:
            self.closed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, None, NaN and non-numbers (shown as "—")."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _better(values: list[float | None], texts: list[str], better: str | None) -> int | None:
    """Column of the better value, or None: neutral measures, a missing value, or a tie as displayed."""
    if better is None or None in values or texts[0] == texts[1]:
        return None
    lower_first = values[0] < values[1]
    return (0 if lower_first else 1) if better == "lower" else (1 if lower_first else 0)
