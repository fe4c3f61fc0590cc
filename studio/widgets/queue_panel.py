"""The queue panel: every job with its live preview, status and progress; reorder, pause, retry.

The panel wraps a JobListModel and talks to the JobQueue directly for commands (cancel, move,
retry, pause, clear). It never changes the list itself: the queue's events come back through
the bridge and the model, so the list always shows what the queue will actually do.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPointF, QRect, QRectF, QSize, Qt, Slot
from PySide6.QtGui import (
    QAction, QColor, QFont, QFontMetrics, QIcon, QImage, QKeySequence, QPainter, QPainterPath, QPalette, QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView, QLabel, QListView, QSizePolicy, QStyle, QStyledItemDelegate, QStyleOptionViewItem,
    QToolBar, QVBoxLayout, QWidget,
)

from engine.jobs import JobQueue, JobStatus
from studio.icons import icon
from studio.viewmodels.job_list import JobListModel, format_seconds

ACCENT = "#7aa2ff"
STATUS_COLOURS = {
    JobStatus.PENDING.value: "#8a90a0",
    JobStatus.RUNNING.value: ACCENT,
    JobStatus.COMPLETED.value: "#6fcf8f",
    JobStatus.FAILED.value: "#ff6b6b",
    JobStatus.CANCELLED.value: "#e8b04a",
}
PAUSED_COLOUR = STATUS_COLOURS[JobStatus.CANCELLED.value]


def status_colour(status: str) -> QColor:
    return QColor(STATUS_COLOURS.get(status, STATUS_COLOURS[JobStatus.PENDING.value]))


def _alpha(colour: QColor, alpha: int) -> QColor:
    colour = QColor(colour)
    colour.setAlpha(alpha)
    return colour


def toolbar_icon(name: str) -> QIcon:
    """The named icon with a clearly faded disabled look.

    Qt derives a disabled icon by greying it, which leaves light-grey line icons on a dark
    theme looking enabled; these are drawn at a third of their opacity instead.
    """
    source = icon(name)
    result = QIcon()
    for side in (16, 18, 20, 24, 32, 36, 48):
        normal = source.pixmap(QSize(side, side))
        if normal.isNull():
            continue
        faded = QPixmap(normal.size())
        faded.setDevicePixelRatio(normal.devicePixelRatio())
        faded.fill(Qt.transparent)
        painter = QPainter(faded)
        painter.setOpacity(0.32)
        painter.drawPixmap(0, 0, normal)
        painter.end()
        result.addPixmap(normal, QIcon.Normal)
        result.addPixmap(faded, QIcon.Disabled)
    return result if not result.isNull() else source


def _place_in_line(position: int) -> str:
    return "starts next" if position == 0 else f"{position} ahead"


# --- drawing one row ---------------------------------------------------------------------------


class JobDelegate(QStyledItemDelegate):
    """Draws a job row: thumbnail or status glyph, title and elapsed time, status line, progress."""

    ROW_HEIGHT = 60
    THUMB = 48
    MARGIN = 6

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, self.ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model = index.model()
        status = index.data(JobListModel.StatusRole) or JobStatus.PENDING.value
        colour = status_colour(status)
        palette: QPalette = option.palette
        text = palette.color(QPalette.Text)
        quiet = palette.color(QPalette.PlaceholderText)
        rect: QRect = option.rect

        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setRenderHint(QPainter.SmoothPixmapTransform, True)

        # background: selection as a tint and an accent bar, so status colours stay readable
        if option.state & QStyle.State_Selected:
            painter.fillRect(rect, _alpha(QColor(ACCENT), 46))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor(ACCENT))
        elif option.state & QStyle.State_MouseOver:
            painter.fillRect(rect, _alpha(text, 14))
        painter.setPen(QPen(_alpha(palette.color(QPalette.Mid), 160), 1))
        painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())

        thumb = QRect(rect.left() + self.MARGIN + 2, rect.top() + (rect.height() - self.THUMB) // 2,
                      self.THUMB, self.THUMB)
        preview = index.data(JobListModel.PreviewRole)
        if isinstance(preview, QImage) and not preview.isNull():
            self._draw_preview(painter, thumb, preview, palette)
            if status in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
                self._draw_badge(painter, thumb, status, colour)
        else:
            self._draw_glyph_tile(painter, thumb, status, colour)

        left = thumb.right() + 11
        right = rect.right() - 8
        width = max(0, right - left)

        # line 1: title, elapsed time right-aligned
        title_font = QFont(option.font)
        title_font.setWeight(QFont.DemiBold)
        small_font = QFont(option.font)
        if small_font.pointSizeF() > 0:
            small_font.setPointSizeF(small_font.pointSizeF() * 0.9)
        title_metrics = QFontMetrics(title_font)
        small_metrics = QFontMetrics(small_font)

        elapsed_text = ""
        if status != JobStatus.PENDING.value and (index.data(JobListModel.ElapsedRole) or 0.0) > 0.0:
            elapsed_text = format_seconds(index.data(JobListModel.ElapsedRole))
        elapsed_width = small_metrics.horizontalAdvance(elapsed_text) + 8 if elapsed_text else 0
        title_top = rect.top() + 8
        title_rect = QRect(left, title_top, max(0, width - elapsed_width), title_metrics.height())
        painter.setFont(title_font)
        painter.setPen(quiet if status == JobStatus.CANCELLED.value else text)
        title = index.data(JobListModel.TitleRole) or ""
        painter.drawText(title_rect, Qt.AlignLeft | Qt.AlignVCenter,
                         title_metrics.elidedText(title, Qt.ElideRight, title_rect.width()))
        if elapsed_text:
            painter.setFont(small_font)
            painter.setPen(quiet)
            painter.drawText(QRect(right - elapsed_width, title_top, elapsed_width, title_metrics.height()),
                             Qt.AlignRight | Qt.AlignVCenter, elapsed_text)

        # line 2: the status word in its colour, then what else there is to say
        status_top = title_top + title_metrics.height() + 3
        painter.setFont(small_font)
        word = status.capitalize()
        word_width = small_metrics.horizontalAdvance(word)
        line_height = small_metrics.height()
        painter.setPen(colour)
        painter.drawText(QRect(left, status_top, word_width + 1, line_height), Qt.AlignLeft | Qt.AlignVCenter, word)
        detail = self._detail(index, status, model)
        if detail:
            detail_left = left + word_width
            detail_rect = QRect(detail_left, status_top, max(0, right - detail_left), line_height)
            painter.setPen(_alpha(colour.lighter(125), 230) if status == JobStatus.FAILED.value else quiet)
            painter.drawText(detail_rect, Qt.AlignLeft | Qt.AlignVCenter,
                             small_metrics.elidedText(" · " + detail, Qt.ElideRight, detail_rect.width()))

        # line 3: a thin progress bar
        bar = QRectF(left, rect.bottom() - 10, width, 3)
        painter.setPen(Qt.NoPen)
        painter.setBrush(_alpha(palette.color(QPalette.Mid), 200))
        painter.drawRoundedRect(bar, 1.5, 1.5)
        fraction = float(index.data(JobListModel.ProgressRole) or 0.0)
        if fraction > 0.0:
            filled = QRectF(bar)
            filled.setWidth(max(3.0, bar.width() * min(1.0, fraction)))
            painter.setBrush(colour if status != JobStatus.CANCELLED.value else _alpha(colour, 170))
            painter.drawRoundedRect(filled, 1.5, 1.5)
        painter.restore()

    @staticmethod
    def _detail(index: QModelIndex, status: str, model) -> str:
        if status == JobStatus.FAILED.value:
            return index.data(JobListModel.ErrorRole) or "the job failed"
        if status == JobStatus.RUNNING.value:
            return index.data(JobListModel.ActivityRole) or ""
        if status == JobStatus.PENDING.value:
            position = index.data(JobListModel.QueuePositionRole)
            place = _place_in_line(position) if isinstance(position, int) else ""
            if getattr(model, "paused", False):
                return f"{place} · queue paused" if place else "queue paused"
            return place
        return ""

    @staticmethod
    def _draw_preview(painter: QPainter, thumb: QRect, image: QImage, palette: QPalette) -> None:
        painter.save()
        clip = QPainterPath()
        clip.addRoundedRect(QRectF(thumb), 4, 4)
        painter.setClipPath(clip)
        painter.fillRect(thumb, palette.color(QPalette.Base))
        size = image.size().scaled(thumb.size(), Qt.KeepAspectRatio)
        target = QRect(0, 0, max(1, size.width()), max(1, size.height()))
        target.moveCenter(thumb.center())
        painter.drawImage(target, image)
        painter.restore()
        painter.setPen(QPen(_alpha(palette.color(QPalette.Mid), 220), 1))
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(QRectF(thumb).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)

    @classmethod
    def _draw_glyph_tile(cls, painter: QPainter, thumb: QRect, status: str, colour: QColor) -> None:
        tile = QRectF(thumb).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(_alpha(colour, 110), 1))
        painter.setBrush(_alpha(colour, 34))
        painter.drawRoundedRect(tile, 4, 4)
        cls._draw_glyph(painter, QRectF(thumb).adjusted(14, 14, -14, -14), status, colour, 2.2)

    @classmethod
    def _draw_badge(cls, painter: QPainter, thumb: QRect, status: str, colour: QColor) -> None:
        badge = QRectF(thumb.right() - 15, thumb.bottom() - 15, 17, 17)
        painter.setPen(QPen(QColor("#15171c"), 1.5))
        painter.setBrush(colour)
        painter.drawEllipse(badge)
        cls._draw_glyph(painter, badge.adjusted(4.5, 4.5, -4.5, -4.5), status, QColor("#15171c"), 1.8)

    @staticmethod
    def _draw_glyph(painter: QPainter, box: QRectF, status: str, colour: QColor, width: float) -> None:
        """Status glyphs drawn as paths, so they need no icon font."""
        pen = QPen(colour, width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        x, y, w, h = box.x(), box.y(), box.width(), box.height()
        centre = box.center()
        if status == JobStatus.COMPLETED.value:
            path = QPainterPath(QPointF(x + 0.1 * w, y + 0.55 * h))
            path.lineTo(QPointF(x + 0.4 * w, y + 0.85 * h))
            path.lineTo(QPointF(x + 0.92 * w, y + 0.18 * h))
            painter.drawPath(path)
        elif status == JobStatus.FAILED.value:
            painter.drawLine(QPointF(centre.x(), y + 0.05 * h), QPointF(centre.x(), y + 0.62 * h))
            painter.setBrush(colour)
            painter.setPen(Qt.NoPen)
            painter.drawEllipse(QPointF(centre.x(), y + 0.9 * h), width * 0.75, width * 0.75)
        elif status == JobStatus.CANCELLED.value:
            painter.drawLine(QPointF(x + 0.15 * w, y + 0.15 * h), QPointF(x + 0.85 * w, y + 0.85 * h))
            painter.drawLine(QPointF(x + 0.85 * w, y + 0.15 * h), QPointF(x + 0.15 * w, y + 0.85 * h))
        elif status == JobStatus.RUNNING.value:
            painter.drawArc(box, 90 * 16, -270 * 16)
        else:  # pending: a clock
            painter.drawEllipse(box)
            painter.drawLine(centre, QPointF(centre.x(), y + 0.22 * h))
            painter.drawLine(centre, QPointF(x + 0.72 * w, centre.y()))


class JobListView(QListView):
    """A list view that says what it is for while the queue is empty."""

    EMPTY_TEXT = "No jobs yet.\nGenerate, resample or inpaint and the jobs line up here."

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignHCenter | Qt.AlignTop | Qt.TextWordWrap, self.EMPTY_TEXT)
            painter.end()


# --- the panel -----------------------------------------------------------------------------------


class QueuePanel(QWidget):
    """Job list with cancel, move to front, retry, pause/resume and clear-pending commands."""

    def __init__(self, model: JobListModel, queue: JobQueue, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueuePanel")
        self._model = model
        self._queue = queue
        self._select_on_arrival: Optional[int] = None
        self._pause_icons = {False: toolbar_icon("pause"), True: toolbar_icon("play")}

        self.header = QLabel()
        self.header.setObjectName("QueueHeader")
        self.header.setContentsMargins(8, 6, 8, 2)
        self.header.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # never widens the dock

        self.toolbar = QToolBar("Queue")
        self.toolbar.setObjectName("QueueToolbar")
        self.toolbar.setIconSize(QSize(18, 18))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonIconOnly)

        self.view = JobListView()
        self.view.setObjectName("QueueView")
        self.view.setModel(model)
        self.view.setItemDelegate(JobDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.view.setMouseTracking(True)
        self.view.setDragEnabled(True)
        self.view.setAcceptDrops(True)
        self.view.setDropIndicatorShown(True)
        self.view.setDragDropMode(QAbstractItemView.InternalMove)
        self.view.setDefaultDropAction(Qt.MoveAction)
        self.view.setContextMenuPolicy(Qt.ActionsContextMenu)

        self.cancel_action = self._action("Cancel job", "cancel", self.cancel_selected, QKeySequence.Delete,
                                          "stops a running job at its next step; removes a pending one")
        self.front_action = self._action("Move to front", "to-front", self.move_selected_to_front, "Ctrl+Home",
                                         "starts this job next")
        self.retry_action = self._action("Retry", "retry", self.retry_selected, "Ctrl+R",
                                         "queues a failed or cancelled job again")
        self.pause_action = self._action("Pause queue", "pause", None, "Ctrl+Shift+P",
                                         "running jobs finish; no new job starts")
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self.set_paused)
        self.clear_action = self._action("Clear pending", "clear", self.clear_pending, "Shift+Del",
                                         "cancels every job that has not started")
        for action in (self.cancel_action, self.front_action, self.retry_action):
            self.toolbar.addAction(action)
            self.view.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.pause_action)
        self.toolbar.addAction(self.clear_action)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)

        self.view.selectionModel().selectionChanged.connect(self._refresh)
        model.dataChanged.connect(self._on_data_changed)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.rowsMoved.connect(self._refresh)
        model.rowsRemoved.connect(self._refresh)
        model.layoutChanged.connect(self._refresh)
        model.modelReset.connect(self._refresh)
        model.paused_changed.connect(self._show_paused)
        self._show_paused(model.paused)
        self._refresh()

    def _action(self, text: str, icon_name: str, slot, shortcut, why: str) -> QAction:
        action = QAction(toolbar_icon(icon_name), text, self)
        action.setShortcut(QKeySequence(shortcut))
        # Only while the panel has focus: Del in the canvas must not cancel a render.
        action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        action.setData(why)
        self._set_tooltip(action)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    @staticmethod
    def _set_tooltip(action: QAction) -> None:
        keys = action.shortcut().toString(QKeySequence.NativeText)
        action.setToolTip(f"{action.text()} ({keys}): {action.data()}" if keys else action.text())

    # -- reading

    @property
    def model(self) -> JobListModel:
        return self._model

    def selected_job_id(self) -> Optional[int]:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        return self._model.job_id_at(rows[0].row())

    def select_job(self, job_id: int) -> bool:
        row = self._model.row_of(job_id)
        if row < 0:
            return False
        index = self._model.index(row)
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.ClearAndSelect)
        self.view.scrollTo(index)
        return True

    def summary(self) -> str:
        counts = self._model.counts()
        parts = []
        active = counts[JobStatus.RUNNING.value] + counts[JobStatus.PENDING.value]
        if active:
            parts.append(f"{active} running/pending")
        if counts[JobStatus.FAILED.value]:
            parts.append(f"{counts[JobStatus.FAILED.value]} failed")
        if not parts:
            parts.append("idle" if self._model.rowCount() else "empty")
        if self._model.paused:
            parts.append("paused")
        return "Queue — " + " · ".join(parts)

    # -- commands

    @Slot()
    def cancel_selected(self) -> None:
        job_id = self.selected_job_id()
        if job_id is not None and self._status(job_id) in (JobStatus.PENDING.value, JobStatus.RUNNING.value):
            if self._queue.cancel(job_id):
                self._model.mark_cancelling(job_id)  # a running job says so now, and stops at its next step

    @Slot()
    def move_selected_to_front(self) -> None:
        job_id = self.selected_job_id()
        if job_id is not None and self._status(job_id) == JobStatus.PENDING.value:
            self._queue.move(job_id, 0)

    @Slot()
    def retry_selected(self) -> None:
        job_id = self.selected_job_id()
        if job_id is None or self._status(job_id) not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
            return
        handle = self._queue.retry(job_id)
        self._select_on_arrival = handle.id  # its row appears when the Queued event arrives

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        if paused:
            self._queue.pause()
        else:
            self._queue.resume()
        self._show_paused(paused)

    @Slot()
    def clear_pending(self) -> None:
        self._queue.clear()

    # -- keeping the controls in step with the list

    def _status(self, job_id: int) -> Optional[str]:
        row = self._model.row_of(job_id)
        return self._model.data(self._model.index(row), JobListModel.StatusRole) if row >= 0 else None

    @Slot(bool)
    def _show_paused(self, paused: bool) -> None:
        if self.pause_action.isChecked() != paused:
            blocked = self.pause_action.blockSignals(True)
            self.pause_action.setChecked(paused)
            self.pause_action.blockSignals(blocked)
        self.pause_action.setText("Resume queue" if paused else "Pause queue")
        self.pause_action.setIcon(self._pause_icons[paused])
        self.pause_action.setData("no new job starts until you resume" if paused
                                  else "running jobs finish; no new job starts")
        self._set_tooltip(self.pause_action)
        self.view.viewport().update()
        self._refresh()

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:
        if list(roles) == [JobListModel.ElapsedRole]:
            return  # the once-a-second clock changes nothing the controls show
        self._refresh()

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if self._select_on_arrival is not None:
            if self.select_job(self._select_on_arrival):
                self._select_on_arrival = None
        self._refresh()

    @Slot()
    def _refresh(self, *_args) -> None:
        job_id = self.selected_job_id()
        status = self._status(job_id) if job_id is not None else None
        pending = self._model.pending_ids()
        self.cancel_action.setEnabled(status in (JobStatus.PENDING.value, JobStatus.RUNNING.value))
        self.front_action.setEnabled(status == JobStatus.PENDING.value and bool(pending) and pending[0] != job_id)
        self.retry_action.setEnabled(status in (JobStatus.FAILED.value, JobStatus.CANCELLED.value))
        self.clear_action.setEnabled(bool(pending))
        self.header.setText(self.summary())
        self.header.setStyleSheet(f"color: {PAUSED_COLOUR};" if self._model.paused else "")
