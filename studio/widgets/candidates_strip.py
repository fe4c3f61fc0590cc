"""CandidatesStrip: a one-row strip of candidate thumbnails over a CandidatesModel.

Click (or Enter on) a finished candidate to choose it; placeholders of running jobs show the live
preview, dimmed, or an animated "…", and cannot be chosen.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QElapsedTimer, QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt, QTimer, Signal, Slot,
)
from PySide6.QtGui import QColor, QFont, QImage, QKeyEvent, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget,
)

from studio.icons import icon
from studio.viewmodels.candidates import THUMBNAIL_SIZE, CandidatesModel

ACCENT = QColor("#7aa2ff")
CELL_PADDING = 4  # around the picture, inside the cell, room for the selection frame
SPACING = 6  # between cells
GROUP_TONES = (0.08, 0.18)  # how much text colour tints the cell background, alternating job by job
GROUP_DIVIDER = QColor(122, 162, 255, 170)


class CandidateDelegate(QStyledItemDelegate):
    """Paints a candidate: picture fitted into the cell, rank and score badges, kind icon, frame."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dots = 3  # the pending animation's frame: 1 .. 3 dots
        self._kind_pixmaps: dict[str, object] = {}

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        side = THUMBNAIL_SIZE + 2 * CELL_PADDING
        return QSize(side, side)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, True)
        palette = option.palette
        cell = QRectF(option.rect).adjusted(1, 1, -1, -1)
        box = QRectF(option.rect).adjusted(CELL_PADDING, CELL_PADDING, -CELL_PADDING, -CELL_PADDING)
        pending = bool(index.data(CandidatesModel.PendingRole))
        selected = bool(option.state & QStyle.State_Selected)
        hovered = bool(option.state & QStyle.State_MouseOver)

        # one job's slots share a tone and a divider starts the next job, so batches read as groups
        group = int(index.data(CandidatesModel.GroupRole) or 0)
        painter.setPen(Qt.NoPen)
        painter.setBrush(_mix(palette.color(QPalette.Base), palette.color(QPalette.Text), GROUP_TONES[group]))
        painter.drawRoundedRect(cell, 5, 5)
        if index.data(CandidatesModel.GroupStartRole) and index.row() > 0:
            painter.fillRect(QRectF(option.rect.left() - SPACING / 2 - 1, cell.top() + 6, 2, cell.height() - 12),
                             GROUP_DIVIDER)

        image = index.data(Qt.DecorationRole)
        if isinstance(image, QImage) and not image.isNull():
            target = _fit(image.size(), box)
            # Enlarging a small result (64 x 64) stays crisp; shrinking stays smooth.
            painter.setRenderHint(QPainter.SmoothPixmapTransform, target.width() < image.width())
            painter.setOpacity(0.55 if pending else 1.0)
            painter.drawImage(target, image)
            painter.setOpacity(1.0)
        if pending:
            font = QFont(option.font)
            font.setPointSizeF(max(font.pointSizeF(), 9.0) * 2.2)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(palette.color(QPalette.Text))
            painter.drawText(box, Qt.AlignCenter, "." * self.dots + " " * (3 - self.dots))
        else:
            for text, top, accent in self.badges(index):
                self._badge(painter, option, box, text, top=top, accent=accent)
        kind = index.data(CandidatesModel.KindRole)
        if kind and kind != "generate":
            self._kind_icon(painter, kind, box)

        if selected or hovered:
            colour = ACCENT if selected else palette.color(QPalette.Mid).lighter(150)
            painter.setPen(QPen(colour, 2.0 if selected else 1.0))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(cell.adjusted(1, 1, -1, -1), 5, 5)
        if option.state & QStyle.State_HasFocus and not selected:
            painter.setPen(QPen(ACCENT, 1.0, Qt.DotLine))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(cell.adjusted(1, 1, -1, -1), 5, 5)
        painter.restore()

    @staticmethod
    def badges(index: QModelIndex | QPersistentModelIndex) -> list[tuple[str, bool, bool]]:
        """(text, at the top, accented) for each badge a finished candidate shows."""
        score = index.data(CandidatesModel.ScoreRole)
        if score is not None:
            rank = int(index.data(CandidatesModel.IndexRole)) + 1
            return [(f"#{rank}", True, rank == 1), (f"{float(score):.2f}", False, False)]
        seed = index.data(CandidatesModel.SeedRole)
        if index.data(CandidatesModel.KindRole) != "generate" and seed is not None:
            # re-rolled blocks differ only by their new seed: show it, to pick one again by it
            return [(f"seed {seed}", False, False)]
        return []

    @staticmethod
    def _badge(painter: QPainter, option: QStyleOptionViewItem, box: QRectF, text: str, top: bool,
               accent: bool) -> None:
        font = QFont(option.font)
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(text) + 8
        height = metrics.height() + 2
        x = box.left() + 3
        y = box.top() + 3 if top else box.bottom() - height - 3
        rect = QRectF(x, y, width, height)
        path = QPainterPath()
        path.addRoundedRect(rect, 3, 3)
        painter.fillPath(path, ACCENT if accent else QColor(13, 15, 20, 200))
        painter.setPen(QColor("#0d0f14") if accent else QColor("#d8dae0"))
        painter.drawText(rect, Qt.AlignCenter, text)

    def _kind_icon(self, painter: QPainter, kind: str, box: QRectF) -> None:
        pixmap = self._kind_pixmaps.get(kind)
        if pixmap is None:
            try:
                pixmap = icon(kind).pixmap(16, 16)
            except KeyError:
                pixmap = False
            self._kind_pixmaps[kind] = pixmap
        if pixmap:
            rect = QRectF(box.right() - 21, box.top() + 3, 18, 18)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor(13, 15, 20, 190))
            painter.drawRoundedRect(rect, 3, 3)
            painter.drawPixmap(QRect(int(rect.left()) + 1, int(rect.top()) + 1, 16, 16), pixmap)


def _mix(base: QColor, other: QColor, amount: float) -> QColor:
    """`base` moved `amount` (0..1) of the way towards `other`: a tint that works on light and dark themes."""
    return QColor.fromRgbF(*(b + (o - b) * amount for b, o in zip(base.getRgbF()[:3], other.getRgbF()[:3])))


def _fit(size: QSize, box: QRectF) -> QRectF:
    """`size` scaled to fit `box`, keeping its aspect ratio, centred."""
    if size.isEmpty():
        return QRectF(box)
    scale = min(box.width() / size.width(), box.height() / size.height())
    width, height = size.width() * scale, size.height() * scale
    return QRectF(box.center().x() - width / 2, box.center().y() - height / 2, width, height)


class CandidatesStrip(QListView):
    """One horizontal row of candidates; `candidate_chosen(path)` on click or Enter of a finished one."""

    candidate_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("CandidatesStrip")
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Static)
        self.setResizeMode(QListView.Adjust)
        self.setUniformItemSizes(True)
        self.setSpacing(SPACING // 2)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setMouseTracking(True)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setDragEnabled(True)  # a candidate dragged onto the timeline lands there
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setToolTip("")
        self._delegate = CandidateDelegate(self)
        self.setItemDelegate(self._delegate)
        cell = THUMBNAIL_SIZE + 2 * CELL_PADDING + SPACING
        self.setMinimumHeight(cell + self.horizontalScrollBar().sizeHint().height() + 2 * self.frameWidth() + 4)
        self.setSizeAdjustPolicy(QAbstractItemView.AdjustIgnored)
        self._spinner = QTimer(self)
        self._spinner.setInterval(350)
        self._spinner.timeout.connect(self._tick)
        self._last_choice = ""
        self._since_choice = QElapsedTimer()
        self.clicked.connect(self._on_clicked)

    def sizeHint(self) -> QSize:
        return QSize(4 * (THUMBNAIL_SIZE + 2 * CELL_PADDING + SPACING), self.minimumHeight())

    def setModel(self, model) -> None:  # noqa: N802 - Qt override
        old = self.model()
        if old is not None:
            for signal, slot in ((old.rowsInserted, self._on_rows_inserted), (old.modelReset, self._update_spinner),
                                 (old.dataChanged, self._update_spinner), (old.rowsRemoved, self._update_spinner)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        super().setModel(model)
        if model is not None:
            model.rowsInserted.connect(self._on_rows_inserted)
            model.modelReset.connect(self._update_spinner)
            model.dataChanged.connect(self._update_spinner)
            model.rowsRemoved.connect(self._update_spinner)
        self._update_spinner()

    # --- choosing ----------------------------------------------------------------------------

    @Slot(QModelIndex)
    def _on_clicked(self, index: QModelIndex) -> None:
        # A double-click is two press-release pairs, so two `clicked`; choosing the same image
        # twice would replace it twice (two undo steps), so the second one is dropped.
        path = index.data(CandidatesModel.PathRole) if index.isValid() else None
        if (path and path == self._last_choice and self._since_choice.isValid()
                and self._since_choice.elapsed() < QApplication.doubleClickInterval()):
            return
        self._choose(index)

    def _choose(self, index: QModelIndex) -> None:
        if not index.isValid() or index.data(CandidatesModel.PendingRole):
            return
        path = index.data(CandidatesModel.PathRole)
        if path:
            self._last_choice = str(path)
            self._since_choice.start()
            self.candidate_chosen.emit(str(path))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and event.modifiers() in (Qt.NoModifier, Qt.KeypadModifier):
            self._choose(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt override
        event.accept()  # no `activated` on double-click: the first click already chose the item

    # --- pending animation and scrolling -----------------------------------------------------

    @Slot(QModelIndex, int, int)
    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if first == 0:
            self.scrollToTop()  # a new batch arrives at the front: show it
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        self._update_spinner()

    @Slot()
    def _update_spinner(self, *args) -> None:
        model = self.model()
        running = bool(model is not None and hasattr(model, "has_pending") and model.has_pending())
        if running and not self._spinner.isActive():
            self._spinner.start()
        elif not running and self._spinner.isActive():
            self._spinner.stop()
            self._delegate.dots = 3

    @Slot()
    def _tick(self) -> None:
        self._delegate.dots = self._delegate.dots % 3 + 1
        self.viewport().update()
