"""Engine events -> Qt signals on the GUI thread.

The job queue delivers events from its worker threads; widgets must only ever run on the GUI
thread. `EngineBridge` lives on the GUI thread and subscribes to the queue; each event crosses
threads through one private signal with a queued connection, so Qt posts them to the GUI
thread's event loop in the order the queue delivered them, and the public signals fire there.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine import events
from engine.jobs import JobQueue


class EngineBridge(QObject):
    """Wraps a JobQueue for the GUI. Construct it on the GUI thread.

    `event` fires for every event, then the typed signal for that event kind. Job ids are ints.
    """

    event = Signal(object)
    queued = Signal(int, object)  # job id, request
    started = Signal(int)
    progress = Signal(int, int, int, object)  # job id, step, total, preview (HxWx3 uint8 or None)
    loading = Signal(int, str)  # job id, id of the model it waits for
    candidate_ready = Signal(int, int, str, object)  # job id, index, path, seed (may pass 2**31)
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str, str)  # job id, message, kind
    cancelled = Signal(int)
    queue_changed = Signal(object)  # events.QueueChanged: pending order and paused flag

    # Emitted from worker threads; the queued connection is what moves delivery to our thread.
    _arrived = Signal(object)

    def __init__(self, queue: JobQueue, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._queue = queue
        self._closed = False
        self._arrived.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Optional[Callable[[], None]] = queue.subscribe(self._arrived.emit)
        # If Qt deletes us before close(), stop the queue calling into a dead object. The lambda
        # holds the unsubscribe function only, not self.
        unsubscribe = self._unsubscribe
        self.destroyed.connect(lambda *_: unsubscribe())

    @property
    def queue(self) -> JobQueue:
        return self._queue

    def close(self) -> None:
        """Stop listening. Events already on their way are dropped, so no signal fires after."""
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @Slot(object)
    def _dispatch(self, event: Any) -> None:
        if self._closed:
            return
        self.event.emit(event)
        if isinstance(event, events.Progress):
            self.progress.emit(event.job_id, event.step, event.total, event.preview)
        elif isinstance(event, events.Loading):
            self.loading.emit(event.job_id, event.model)
        elif isinstance(event, events.Started):
            self.started.emit(event.job_id)
        elif isinstance(event, events.Queued):
            self.queued.emit(event.job_id, event.request)
        elif isinstance(event, events.CandidateReady):
            self.candidate_ready.emit(event.job_id, event.index, event.path, event.seed)
        elif isinstance(event, events.Finished):
            self.finished.emit(event.job_id, event.result)
        elif isinstance(event, events.Failed):
            self.failed.emit(event.job_id, event.message, event.kind)
        elif isinstance(event, events.Cancelled):
            self.cancelled.emit(event.job_id)
        elif isinstance(event, events.QueueChanged):
            self.queue_changed.emit(event)
