"""The job list: one row per job of a JobQueue, in the queue's own order, for the queue panel.

Rows mirror `JobQueue.jobs()`: jobs that left the pending state (started, or cancelled while
pending) in the order they did, then pending jobs in the order they will start. The model
changes only in slots of the EngineBridge's signals, so it only ever changes on the GUI thread
and in the order the queue's events happened. Reordering by drag and drop asks the queue to
move the job and waits for its QueueChanged event; the model never reorders itself ahead of
the queue, so what the list shows is what the queue will do.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional, Sequence

from PySide6.QtCore import (
    QAbstractListModel, QByteArray, QMimeData, QModelIndex, QObject, Qt, QTimer, Signal, Slot,
)
from PySide6.QtGui import QImage

from engine import api
from engine.events import QueueChanged
from engine.jobs import JobQueue, JobStatus
from studio.bridge import EngineBridge
from studio.images import ThumbnailLoader, to_qimage

JOB_IDS_MIME = "application/x-latent-studio-job-ids"
PROMPT_CHARS = 40
RESULT_THUMBNAIL = 96  # the row draws 48 px; twice that stays sharp on a high-density screen


# --- titles ------------------------------------------------------------------------------------


def one_line(text: str, limit: Optional[int]) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis (None: whole)."""
    text = " ".join(text.split())  # a prompt's newlines and runs of spaces read as one space
    if limit is not None and len(text) > limit:
        return text[: max(1, limit - 1)].rstrip() + "…"
    return text


def _times(count: int) -> str:
    return f" ×{count}" if count > 1 else ""


def describe_request(request: Any, prompt_chars: Optional[int] = PROMPT_CHARS) -> str:
    """A short human title for a request, e.g. "Generate ×4 · a red circle on the left…".

    `prompt_chars` cuts the prompt (None: the whole prompt, for tooltips). Unknown request
    types fall back to their class name.
    """
    if isinstance(request, api.GenerateRequest):
        verb = "Image to image" if request.init_image else "Generate"
        prompt = one_line(request.prompt, prompt_chars)
        return f"{verb}{_times(request.count)}" + (f" · {prompt}" if prompt else "")
    if isinstance(request, api.ResampleRequest):
        return f"Resample block {request.row},{request.col}{_times(request.count)}"
    if isinstance(request, api.InpaintRequest):
        where = f"block {request.row},{request.col}" if request.row is not None and request.col is not None else "mask"
        return f"Inpaint {where}{_times(request.count)}"
    if isinstance(request, api.CompareRequest):
        return f"Compare block {request.row},{request.col}"
    if isinstance(request, (api.ClipRequest, api.ContinueRequest)):
        if isinstance(request, api.ContinueRequest):
            verb = "Continue"
        else:
            verb = "Cinemagraph" if request.mask else "Clip"
        prompt = one_line(request.prompt, prompt_chars)
        return verb + (f" · {prompt}" if prompt else "")
    if isinstance(request, api.ExportRequest):
        return f"Export {request.format.upper()}"
    return type(request).__name__


def result_image(result: Any) -> Optional[str]:
    """The file that stands for a finished job's result: its best image, a comparison's strip, or a
    clip's lossless master (the thumbnail is its middle frame)."""
    if isinstance(result, (api.GenerateResult, api.EditResult)) and result.images:
        return result.images[0].path
    if isinstance(result, api.CompareResult):
        return result.side_by_side or result.resample_path
    if isinstance(result, api.ClipResult):
        return result.clip.master
    return None


# --- the model ---------------------------------------------------------------------------------


@dataclass
class _Row:
    job_id: int
    request: Any
    title: str
    status: JobStatus = JobStatus.PENDING
    step: int = 0
    total: int = 0
    preview: Optional[QImage] = None
    error: Optional[str] = None
    error_kind: Optional[str] = None
    result: Any = None
    retry_of: Optional[int] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    loading: str = ""  # the model a running job waits for, until its first step
    cancelling: bool = False  # cancel asked for; a running job stops at its next step

    @property
    def activity(self) -> str:
        """What a running job is doing, in a few words; "" for a job that is not running."""
        if self.status is not JobStatus.RUNNING:
            return ""
        if self.cancelling:
            return "cancelling at the next step"
        if self.total > 0:
            return f"step {self.step}/{self.total}"
        return f"loading model {self.loading}" if self.loading else "starting"

    @property
    def progress(self) -> float:
        if self.status is JobStatus.COMPLETED:
            return 1.0
        return min(1.0, self.step / self.total) if self.total > 0 else 0.0

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.started_at)


class JobListModel(QAbstractListModel):
    """The jobs of one queue as a flat list model; see the module docstring for the order.

    Roles: DisplayRole (title), ToolTipRole, and the class attributes below. ElapsedRole is
    seconds since the job started, live while it runs (refreshed every second for running rows)
    and fixed once it ends; 0.0 for a job that never started.
    """

    JobIdRole = Qt.UserRole + 1
    TitleRole = Qt.UserRole + 2
    StatusRole = Qt.UserRole + 3  # str: a JobStatus value
    ProgressRole = Qt.UserRole + 4  # float 0..1
    PreviewRole = Qt.UserRole + 5  # QImage or None
    ElapsedRole = Qt.UserRole + 6  # float seconds
    ErrorRole = Qt.UserRole + 7  # str or None
    ErrorKindRole = Qt.UserRole + 8  # str or None
    StepsRole = Qt.UserRole + 9  # (step, total)
    QueuePositionRole = Qt.UserRole + 10  # int index among pending jobs (0 starts next), or None
    RequestRole = Qt.UserRole + 11
    ResultRole = Qt.UserRole + 12
    RetryOfRole = Qt.UserRole + 13  # id of the job this one retries, or None
    ActivityRole = Qt.UserRole + 14  # str: what a running job is doing ("loading model x", "step 3/20")

    ELAPSED_REFRESH_MS = 1000

    paused_changed = Signal(bool)

    def __init__(self, queue: JobQueue, bridge: EngineBridge, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._queue = queue
        self._rows: dict[int, _Row] = {}
        self._history: list[int] = []  # ids that left the pending state, in the order they did
        self._pending: list[int] = []  # ids in the order they will start
        self._paused = queue.paused
        # Jobs submitted before we were built; events already on their way for them are
        # applied idempotently below (a status never goes back, a known id is not re-added).
        for handle in queue.jobs():
            row = _Row(handle.id, handle.request, describe_request(handle.request), handle.status,
                       handle.progress[0], handle.progress[1], None, handle.error, handle.error_kind,
                       handle.result, handle.retry_of, handle.started_at, handle.finished_at)
            self._rows[handle.id] = row
            (self._pending if row.status is JobStatus.PENDING else self._history).append(handle.id)

        self._thumbnails = ThumbnailLoader(RESULT_THUMBNAIL, parent=self)
        self._ticker = QTimer(self)
        self._ticker.setInterval(self.ELAPSED_REFRESH_MS)
        self._ticker.timeout.connect(self._tick)
        if any(row.status is JobStatus.RUNNING for row in self._rows.values()):
            self._ticker.start()

        bridge.queued.connect(self._on_queued)
        bridge.started.connect(self._on_started)
        bridge.progress.connect(self._on_progress)
        bridge.loading.connect(self._on_loading)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)
        bridge.cancelled.connect(self._on_cancelled)
        bridge.queue_changed.connect(self._on_queue_changed)

    # -- reading

    @property
    def queue(self) -> JobQueue:
        return self._queue

    @property
    def paused(self) -> bool:
        """The queue's paused flag as of the last event the GUI has seen."""
        return self._paused

    def job_id_at(self, row: int) -> int:
        if not 0 <= row < len(self._history) + len(self._pending):
            raise IndexError(f"no row {row} in the job list")
        history = len(self._history)
        return self._history[row] if row < history else self._pending[row - history]

    def row_of(self, job_id: int) -> int:
        """The row of a job, or -1 when the list does not hold it."""
        row = self._rows.get(job_id)
        if row is None:
            return -1
        if row.status is JobStatus.PENDING and job_id in self._pending:
            return len(self._history) + self._pending.index(job_id)
        return self._history.index(job_id) if job_id in self._history else -1

    def job_ids(self) -> list[int]:
        return self._history + self._pending

    def pending_ids(self) -> list[int]:
        return list(self._pending)

    def counts(self) -> dict[str, int]:
        """How many jobs have each status, keyed by JobStatus value (every status present)."""
        counts = {status.value: 0 for status in JobStatus}
        for row in self._rows.values():
            counts[row.status.value] += 1
        return counts

    # -- Qt model interface

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._history) + len(self._pending)

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        for role, name in ((self.JobIdRole, b"jobId"), (self.TitleRole, b"title"), (self.StatusRole, b"status"),
                           (self.ProgressRole, b"progress"), (self.PreviewRole, b"preview"),
                           (self.ElapsedRole, b"elapsed"), (self.ErrorRole, b"error"),
                           (self.ErrorKindRole, b"errorKind"), (self.StepsRole, b"steps"),
                           (self.QueuePositionRole, b"queuePosition")):
            names[role] = QByteArray(name)
        return names

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self.rowCount():
            return None
        row = self._rows[self.job_id_at(index.row())]
        if role in (Qt.DisplayRole, self.TitleRole):
            return row.title
        if role == self.JobIdRole:
            return row.job_id
        if role == self.StatusRole:
            return row.status.value
        if role == self.ProgressRole:
            return row.progress
        if role == self.PreviewRole:
            return row.preview
        if role == self.ElapsedRole:
            return row.elapsed(time.time())
        if role == self.ErrorRole:
            return row.error
        if role == self.ErrorKindRole:
            return row.error_kind
        if role == Qt.ToolTipRole:
            return self._tooltip(row, index.row())
        if role == self.StepsRole:
            return (row.step, row.total)
        if role == self.QueuePositionRole:
            return index.row() - len(self._history) if row.status is JobStatus.PENDING else None
        if role == self.RequestRole:
            return row.request
        if role == self.ResultRole:
            return row.result
        if role == self.RetryOfRole:
            return row.retry_of
        if role == self.ActivityRole:
            return row.activity
        return None

    def _tooltip(self, row: _Row, model_row: int) -> str:
        if row.status is JobStatus.FAILED:
            return row.error or "The job failed."
        status = row.status.value.capitalize()
        if row.status is JobStatus.RUNNING:
            status += f", {row.activity}"
        elif row.status is JobStatus.PENDING:
            position = model_row - len(self._history)
            status += " (starts next)" if position == 0 else f" ({position} ahead)"
            if self._paused:
                status += ", queue paused"
        if row.started_at is not None:
            status += f" · {format_seconds(row.elapsed(time.time()))}"
        return f"{describe_request(row.request, prompt_chars=None)}\n{status}"  # the whole prompt

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.ItemIsDropEnabled  # drops land between rows, never on one
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemNeverHasChildren
        if self._rows[self.job_id_at(index.row())].status is JobStatus.PENDING:
            flags |= Qt.ItemIsDragEnabled
        return flags

    # -- drag and drop: only pending jobs move, and only the queue moves them

    def supportedDropActions(self) -> Qt.DropActions:
        return Qt.MoveAction

    def supportedDragActions(self) -> Qt.DropActions:
        return Qt.MoveAction

    def mimeTypes(self) -> list[str]:
        return [JOB_IDS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> Optional[QMimeData]:
        ids: list[int] = []
        for index in sorted((i for i in indexes if i.isValid()), key=lambda i: i.row()):
            job_id = self.job_id_at(index.row())
            if self._rows[job_id].status is JobStatus.PENDING and job_id not in ids:
                ids.append(job_id)
        if not ids:
            return None
        mime = QMimeData()
        mime.setData(JOB_IDS_MIME, QByteArray(json.dumps(ids).encode("ascii")))
        return mime

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: QModelIndex) -> bool:
        return action == Qt.MoveAction and data is not None and data.hasFormat(JOB_IDS_MIME)

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: QModelIndex) -> bool:
        if action == Qt.IgnoreAction:
            return True
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        try:
            ids = [int(job_id) for job_id in json.loads(bytes(data.data(JOB_IDS_MIME)).decode("ascii"))]
        except (ValueError, TypeError):
            return False
        if row < 0:
            row = parent.row() if parent.isValid() else self.rowCount()
        return self.move_jobs(ids, row)

    def moveRows(self, source_parent: QModelIndex, source_row: int, count: int,
                 destination_parent: QModelIndex, destination_child: int) -> bool:
        """What QListView's internal move calls; like a drop, it asks the queue to move."""
        if source_parent.isValid() or destination_parent.isValid() or count < 1:
            return False
        if source_row < 0 or source_row + count > self.rowCount():
            return False
        ids = [self.job_id_at(r) for r in range(source_row, source_row + count)]
        return self.move_jobs(ids, destination_child)

    def move_jobs(self, job_ids: Sequence[int], row: int) -> bool:
        """Ask the queue to put pending jobs before the row `row` as shown (rowCount(): last).

        The list changes when the queue's QueueChanged event arrives. Returns whether any job
        was moved. Rows are read as "before this job", so a job that started since the list
        was drawn does not shift the drop by one.
        """
        moving = [job_id for job_id in dict.fromkeys(job_ids) if job_id in self._pending]
        if not moving:
            return False
        slot = max(0, min(row - len(self._history), len(self._pending)))
        # The jobs the user dropped in front of, nearest first: the first one still pending
        # when we ask the queue is where the moved jobs go.
        anchors = [job_id for job_id in self._pending[slot:] if job_id not in moving]
        live = [handle.id for handle in self._queue.pending()]
        moved = False
        previous: Optional[int] = None
        for job_id in moving:
            if job_id not in live:
                continue  # it started meanwhile
            live.remove(job_id)
            if previous is not None:
                index = live.index(previous) + 1
            else:
                index = next((live.index(a) for a in anchors if a in live), len(live))
            live.insert(index, job_id)
            if self._queue.move(job_id, index):
                moved = True
                previous = job_id
            else:
                live.remove(job_id)
        return moved

    # -- slots: the bridge's signals, on the GUI thread

    @Slot(int, object)
    def _on_queued(self, job_id: int, request: Any) -> None:
        if job_id in self._rows:
            return
        retry_of = None
        try:
            retry_of = self._queue.get(job_id).retry_of
        except KeyError:
            pass
        position = self.rowCount()
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows[job_id] = _Row(job_id, request, describe_request(request), retry_of=retry_of)
        self._pending.append(job_id)
        self.endInsertRows()
        # A job submitted to the front is followed by a QueueChanged that puts it there.

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        row = self._rows.get(job_id)
        if row is None or row.status.is_terminal:
            return
        if row.status is JobStatus.PENDING:
            self._leave_pending(job_id)
        row.status = JobStatus.RUNNING
        row.started_at = self._handle_time(job_id, "started_at") or time.time()
        self._row_changed(job_id)
        if not self._ticker.isActive():
            self._ticker.start()

    @Slot(int, int, int, object)
    def _on_progress(self, job_id: int, step: int, total: int, preview: Any) -> None:
        row = self._rows.get(job_id)
        if row is None or row.status.is_terminal:
            return
        row.step, row.total = step, total
        roles = [self.ProgressRole, self.StepsRole, Qt.ToolTipRole]
        image = to_qimage(preview)
        if image is not None:
            row.preview = image
            roles.append(self.PreviewRole)
        self._row_changed(job_id, roles)

    @Slot(int, str)
    def _on_loading(self, job_id: int, model: str) -> None:
        row = self._rows.get(job_id)
        if row is not None and not row.status.is_terminal:
            row.loading = model
            self._row_changed(job_id, [self.ActivityRole, Qt.ToolTipRole])

    def mark_cancelling(self, job_id: int) -> None:
        """Show at once that a cancel was asked for; the job's Cancelled event settles it later."""
        row = self._rows.get(job_id)
        if row is not None and row.status is JobStatus.RUNNING and not row.cancelling:
            row.cancelling = True
            self._row_changed(job_id, [self.ActivityRole, Qt.ToolTipRole])

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: Any) -> None:
        self._settle(job_id, JobStatus.COMPLETED, result=result)
        path = result_image(result)
        if path is not None and job_id in self._rows:
            # the last live preview is a cheap latent approximation: the finished row shows the result
            self._thumbnails.load(path, partial(self._on_result_thumbnail, job_id))

    def _on_result_thumbnail(self, job_id: int, image: QImage) -> None:
        row = self._rows.get(job_id)
        if row is not None and not image.isNull():
            row.preview = image
            self._row_changed(job_id, [self.PreviewRole])

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, kind: str) -> None:
        self._settle(job_id, JobStatus.FAILED, error=message, kind=kind)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._settle(job_id, JobStatus.CANCELLED)

    @Slot(object)
    def _on_queue_changed(self, change: QueueChanged) -> None:
        order = [job_id for job_id in change.order
                 if job_id in self._rows and self._rows[job_id].status is JobStatus.PENDING]
        known = set(order)
        new_pending = order + [job_id for job_id in self._pending if job_id not in known]
        if new_pending != self._pending:
            self.layoutAboutToBeChanged.emit()
            before = self.persistentIndexList()
            ids = [self.job_id_at(index.row()) for index in before]
            self._pending = new_pending
            self.changePersistentIndexList(before, [self.index(self.row_of(job_id)) for job_id in ids])
            self.layoutChanged.emit()
            self._pending_rows_changed()
        if change.paused != self._paused:
            self._paused = change.paused
            self._pending_rows_changed()
            self.paused_changed.emit(self._paused)

    @Slot()
    def _tick(self) -> None:
        running = [job_id for job_id in self._history if self._rows[job_id].status is JobStatus.RUNNING]
        if not running:
            self._ticker.stop()
            return
        for job_id in running:
            self._row_changed(job_id, [self.ElapsedRole])

    # -- helpers

    def _settle(self, job_id: int, status: JobStatus, result: Any = None, error: Optional[str] = None,
                kind: Optional[str] = None) -> None:
        row = self._rows.get(job_id)
        if row is None or row.status.is_terminal:
            return
        if row.status is JobStatus.PENDING:
            self._leave_pending(job_id)
        row.status = status
        row.result, row.error, row.error_kind = result, error, kind
        row.finished_at = self._handle_time(job_id, "finished_at") or time.time()
        self._row_changed(job_id)

    def _leave_pending(self, job_id: int) -> None:
        """Move a pending job's row to the end of the history part, as the queue does."""
        source = self.row_of(job_id)
        target = len(self._history)
        if job_id in self._pending:
            moves = source != target
            if moves:
                self.beginMoveRows(QModelIndex(), source, source, QModelIndex(), target)
            self._pending.remove(job_id)
            self._history.append(job_id)
            if moves:
                self.endMoveRows()
            self._pending_rows_changed()
        elif job_id not in self._history:
            self._history.append(job_id)

    def _row_changed(self, job_id: int, roles: Optional[list[int]] = None) -> None:
        row = self.row_of(job_id)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, roles or [])

    def _pending_rows_changed(self) -> None:
        if self._pending:
            first = len(self._history)
            self.dataChanged.emit(self.index(first), self.index(first + len(self._pending) - 1),
                                  [self.QueuePositionRole, Qt.ToolTipRole])

    def _handle_time(self, job_id: int, name: str) -> Optional[float]:
        try:
            return getattr(self._queue.get(job_id), name)
        except KeyError:
            return None


def format_seconds(seconds: float) -> str:
    """'12.3 s' under a minute, '2 min 05 s' under an hour, then '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
