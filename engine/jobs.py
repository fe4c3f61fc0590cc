"""The job queue: ordered, pausable, cancellable jobs run on GPU and CPU worker threads.

A job is a request (a frozen dataclass with ClassVars `task` and `resource`) run by a plain
function `runner(request, context) -> result`. GPU jobs share one worker thread and run one
at a time in queue order; CPU jobs (exports, file I/O) have their own pool, so an export never
waits behind a generation.

Events (engine.events) are delivered to subscribers in one global order (the order the
changes happened) by the queue's own event thread, never by the thread that made the change.
So submit/cancel/... never run subscriber code on the caller's (GUI) thread, a slow subscriber
never holds up a worker, and a subscriber may call back into the queue. A subscriber must not
block, though (it would hold up every later event), and must not wait on a job's handle.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from engine import events
from engine.errors import Cancelled, StudioError
from engine.models.cache import ModelCache
from engine.tasks import run_task

log = logging.getLogger(__name__)

Runner = Callable[[Any, "TaskContext"], Any]
Subscriber = Callable[[events.Event], None]
PreviewFn = Callable[[Any], Any]

RESOURCES = ("gpu", "cpu")

OUT_OF_MEMORY_MESSAGE = (
    "Ran out of memory while running this job; try fewer candidates or a smaller image size, then retry."
)


class JobStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


# --- per-job context ---------------------------------------------------------------------------


@runtime_checkable
class TaskContext(Protocol):
    """What every task function may use of its context, and all it may use.

    JobContext (a queued job), compare's per-side context and the tests' direct context
    implement it; a task that needs more must add it here, and to each of them.
    """

    model_cache: Any  # engine.models.cache.ModelCache: the registry and the loaded pipelines

    def report(self, step: int, total: int, preview: Any = None) -> None:
        """Progress of the whole job (step of total) and an optional small RGB preview."""

    def check_cancelled(self) -> None:
        """Raise engine.errors.Cancelled if the job was cancelled; tasks call it between steps."""

    def candidate_ready(self, index: int, path: str, seed: int) -> None:
        """Candidate `index` is saved at `path`: a viewer may show it before the whole job ends."""


class JobContext:
    """A queued job's TaskContext: progress reporting, the cancel flag and the model cache.

    One per job, so interrupts and progress never live in module globals. A task may also be
    called directly with `JobContext(job_id)`, which reports nowhere and is never cancelled
    unless `cancel()` is called.
    """

    def __init__(
        self,
        job_id: int,
        model_cache: Any = None,
        on_progress: Optional[Callable[[int, int, Any], None]] = None,
        on_candidate: Optional[Callable[[int, str, int], None]] = None,
    ) -> None:
        self.job_id = job_id
        self.model_cache = model_cache
        self._on_progress = on_progress
        self._on_candidate = on_candidate
        self._cancel = threading.Event()
        self._interrupted = False

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """For tasks that wait on something: `ctx.cancel_event.wait(timeout)` wakes on cancel."""
        return self._cancel

    @property
    def interrupted(self) -> bool:
        """True once `diffusers_callback` has told a pipeline to stop early."""
        return self._interrupted

    def cancel(self) -> None:
        self._cancel.set()

    def report(self, step: int, total: int, preview: Any = None) -> None:
        if self._on_progress is not None:
            self._on_progress(step, total, preview)

    def candidate_ready(self, index: int, path: str, seed: int) -> None:
        """Candidate `index` is saved at `path`: a viewer may show it before the whole job ends."""
        if self._on_candidate is not None:
            self._on_candidate(index, path, seed)

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"job {self.job_id} was cancelled")

    def diffusers_callback(
        self, total: int, preview_fn: Optional[PreviewFn] = None
    ) -> Callable[[Any, int, Any, dict], dict]:
        """A `callback_on_step_end` for diffusers pipelines: progress and cancel point in one.

        Raising inside a pipeline's callback would skip its own clean-up, so on cancel this sets
        the pipeline's `_interrupt` flag (it then skips the remaining steps) and the task calls
        `ctx.check_cancelled()` after the pipeline returns. `diffusers_callback` below is the one
        place in the code base that touches `_interrupt`.
        """

        def interrupted() -> None:
            self._interrupted = True

        return diffusers_callback(self, total, preview_fn, on_interrupt=interrupted)


def diffusers_callback(context: "TaskContext", total: int, preview_fn: Optional[PreviewFn] = None,
                       on_interrupt: Optional[Callable[[], None]] = None) -> Callable[[Any, int, Any, dict], dict]:
    """`JobContext.diffusers_callback` for any TaskContext (a direct call's too): a cancel seen by
    `context.check_cancelled()` sets the pipeline's `_interrupt` flag, and the task calls
    `context.check_cancelled()` again after the pipeline returns."""

    def on_step_end(pipe: Any, step_index: int, timestep: Any, callback_kwargs: dict) -> dict:
        preview = None
        if preview_fn is not None and callback_kwargs.get("latents") is not None:
            try:
                preview = preview_fn(callback_kwargs["latents"])
            except Exception:
                # A preview is cosmetic; a bug in it must not cost the user the render.
                log.exception("preview failed at step %s", step_index + 1)
        context.report(step_index + 1, total, preview)
        try:
            context.check_cancelled()
        except Cancelled:
            if not isinstance(getattr(type(pipe), "interrupt", None), property):
                raise  # a pipeline that never reads the flag (StableVideoDiffusionPipeline) is stopped by raising
            pipe._interrupt = True
            if on_interrupt is not None:
                on_interrupt()
        return callback_kwargs

    return on_step_end


# --- handles -------------------------------------------------------------------------------------


class JobHandle:
    """A submitted job as its owner sees it. The queue updates it; owners only read it.

    `wait()` returns once the job is terminal and its terminal event (Finished, Failed or
    Cancelled) has been delivered to every subscriber.
    """

    def __init__(
        self,
        job_id: int,
        request: Any,
        resource: str,
        settled: threading.Condition,
        retry_of: Optional[int] = None,
    ) -> None:
        self.id = job_id
        self.request = request
        self.resource = resource
        self.retry_of = retry_of
        self.status = JobStatus.PENDING
        self.result: Any = None
        self.error: Optional[str] = None
        self.error_kind: Optional[str] = None
        self.progress: tuple[int, int] = (0, 0)
        self.cancel_requested = False
        self.submitted_at = time.time()
        self.started_at: Optional[float] = None
        self.finished_at: Optional[float] = None
        self._context: Optional[JobContext] = None  # set by the queue; dropped when the job ends
        self._settled_cond = settled
        self._settled = False

    @property
    def done(self) -> bool:
        return self.status.is_terminal

    def wait(self, timeout: Optional[float] = None) -> bool:
        with self._settled_cond:
            return self._settled_cond.wait_for(lambda: self._settled, timeout)

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {type(self.request).__name__} {self.status.value}>"


def describe_error(exc: BaseException, task: Optional[str] = None) -> tuple[str, str]:
    """(message, kind) for the exception a `task` job raised: a sentence a user can act on, and a tag.

    A StudioError already is that sentence. Anything else is our bug, so the user hears which job
    it stopped and to report it; the exception's own words stay in brackets for that report. The
    wording avoids "failed": the app and CLI put "Failed:" / "error:" before it.
    """
    if isinstance(exc, StudioError):
        return (str(exc) or type(exc).__name__, exc.kind)
    if _is_out_of_memory(exc):
        return (OUT_OF_MEMORY_MESSAGE, "out_of_memory")
    text = str(exc)
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    job = f"The {task} job" if task else "The job"
    return (f"{job} stopped on an unexpected error ({detail}). This is a bug: please report it with the log.",
            "error")


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    # torch.OutOfMemoryError / torch.cuda.OutOfMemoryError, recognised by name so the engine
    # need not import torch; older CUDA and MPS builds raise a RuntimeError saying so instead.
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    text = str(exc).lower()
    # the CPU allocator says "can't allocate memory" (DefaultCPUAllocator) rather than "out of memory"
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


# --- the queue -----------------------------------------------------------------------------------


class JobQueue:
    """Jobs in one order; a GPU worker and a pool of CPU workers take them from it.

    `jobs()` lists jobs that have left the pending state (in the order they did: started, or
    cancelled while pending) followed by pending jobs in the order they will start. Methods
    that take a job accept its handle or its id.
    """

    def __init__(self, runner: Runner = run_task, model_cache: Any = None, cpu_workers: int = 2) -> None:
        if cpu_workers < 1:
            raise ValueError(f"cpu_workers must be at least 1, got {cpu_workers}")
        self._runner = runner
        self._model_cache = model_cache
        self._pool_sizes = {"gpu": 1, "cpu": cpu_workers}
        # One re-entrant lock guards all state: a subscriber (or a SIGINT handler, as in the
        # CLI) may call back into the queue from a thread that is already inside it.
        self._lock = threading.RLock()
        self._ready = {resource: threading.Condition(self._lock) for resource in RESOURCES}
        self._events_ready = threading.Condition(self._lock)
        self._delivered = threading.Condition(self._lock)
        self._pending: list[JobHandle] = []
        self._history: list[JobHandle] = []
        self._by_id: dict[int, JobHandle] = {}
        self._next_id = 1
        self._paused = False
        self._closing = False
        self._threads: dict[str, list[threading.Thread]] = {resource: [] for resource in RESOURCES}
        self._live_workers = 0
        self._subscribers: tuple[tuple[object, Subscriber], ...] = ()
        # Events wait here, in the order their changes happened, for the event thread.
        self._outbox: deque[tuple[events.Event, Optional[JobHandle]]] = deque()
        self._posted = 0
        self._delivered_count = 0
        self._event_thread: Optional[threading.Thread] = None
        self._retired_event_threads: list[threading.Thread] = []
        # The job each worker thread is running, so a model load (reported by the cache on the
        # loading thread) is announced as that job's Loading event.
        self._running_here = threading.local()
        self._stop_load_reports = (model_cache.add_load_listener(self._on_model_load)
                                   if isinstance(model_cache, ModelCache) else None)
        self._register_exit_hook()

    # -- properties

    @property
    def model_cache(self) -> Any:
        return self._model_cache

    @property
    def paused(self) -> bool:
        return self._paused

    # -- submitting and ordering

    def submit(self, request: Any, where: str = "back") -> JobHandle:
        return self._enqueue(request, where, retry_of=None)

    def retry(self, job: JobHandle | int, where: str = "back") -> JobHandle:
        """Submit a failed or cancelled job's request again, as a new job."""
        handle = self._resolve(job)
        if handle.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise ValueError(f"only a failed or cancelled job can be retried; job {handle.id} is {handle.status}")
        return self._enqueue(handle.request, where, retry_of=handle.id)

    def move(self, job: JobHandle | int, index: int) -> bool:
        """Put a pending job at `index` among the pending jobs (clamped; 0 starts next).

        Returns False, changing nothing, when the job is no longer pending.
        """
        with self._lock:
            handle = self._resolve(job)
            if handle.status is not JobStatus.PENDING:
                return False
            self._pending.remove(handle)
            self._pending.insert(max(0, min(index, len(self._pending))), handle)
            self._post_order()
        return True

    def cancel(self, job: JobHandle | int) -> bool:
        """Cancel a job. Pending: removed at once. Running: it stops at its next cancel point.

        Returns False when the job had already ended.
        """
        with self._lock:
            handle = self._resolve(job)
            if handle.status is JobStatus.PENDING:
                self._pending.remove(handle)
                self._cancel_pending(handle)
            elif handle.status is JobStatus.RUNNING:
                self._request_cancel(handle)
            else:
                return False
        return True

    def clear(self) -> int:
        """Cancel every pending job; returns how many were cancelled."""
        with self._lock:
            victims, self._pending = self._pending, []
            for handle in victims:
                self._cancel_pending(handle)
            if victims:
                self._post_order()
        return len(victims)

    def pause(self) -> None:
        """Start no new jobs; running ones finish."""
        self._set_paused(True)

    def resume(self) -> None:
        self._set_paused(False)

    # -- reading

    def jobs(self) -> list[JobHandle]:
        with self._lock:
            return self._history + self._pending

    def pending(self) -> list[JobHandle]:
        with self._lock:
            return list(self._pending)

    def get(self, job_id: int) -> JobHandle:
        return self._resolve(job_id)

    # -- events

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(event)` for every event from now on; returns the unsubscribe function."""
        token = object()
        with self._lock:
            self._subscribers = self._subscribers + ((token, callback),)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(entry for entry in self._subscribers if entry[0] is not token)

        return unsubscribe

    # -- shutting down

    def shutdown(self, wait: bool = True, cancel_running: bool = True) -> None:
        """Cancel pending jobs, stop the workers and (with `wait`) join them.

        With `cancel_running` false, running jobs finish first. Idempotent; submit fails after.
        """
        with self._lock:
            if not self._closing:
                self._closing = True
                victims, self._pending = self._pending, []
                for handle in victims:
                    self._cancel_pending(handle)
                for ready in self._ready.values():
                    ready.notify_all()
                self._events_ready.notify_all()
            if cancel_running:
                for handle in self._history:
                    if handle.status is JobStatus.RUNNING:
                        self._request_cancel(handle)
            workers = [thread for pool in self._threads.values() for thread in pool]
            if self._stop_load_reports is not None:
                self._stop_load_reports()  # a cache outlives its queues; it must not keep calling this one
                self._stop_load_reports = None
        if not wait:
            return
        current = threading.current_thread()
        # Workers first: the event thread stays until they are gone and their events delivered.
        for thread in workers:
            if thread is not current:  # shutdown called by a task or a subscriber
                thread.join()
        if current in workers:
            return  # the event thread outlives this worker, so it can't be joined from here
        with self._lock:
            event_threads = self._retired_event_threads + ([self._event_thread] if self._event_thread else [])
            self._retired_event_threads = []
        for thread in event_threads:
            if thread is not current:
                thread.join()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every event posted so far has reached the subscribers.

        Returns False on timeout. From a subscriber (the event thread) it returns False at once
        rather than wait for itself.
        """
        with self._lock:
            if self._event_thread is threading.current_thread():
                return False
            target = self._posted
            return self._delivered.wait_for(lambda: self._delivered_count >= target, timeout)

    def __enter__(self) -> "JobQueue":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown(wait=True, cancel_running=True)

    # -- internals: state changes (the helpers below `_enqueue` expect the lock held)

    def _enqueue(self, request: Any, where: str, retry_of: Optional[int]) -> JobHandle:
        resource = getattr(request, "resource", None)
        if resource not in RESOURCES:
            raise ValueError(f"{type(request).__name__}.resource must be one of {RESOURCES}, got {resource!r}")
        if where not in ("back", "front"):
            raise ValueError(f"where must be 'back' or 'front', got {where!r}")
        with self._lock:
            if self._closing:
                raise RuntimeError("the job queue has been shut down")
            job_id = self._next_id
            self._next_id += 1
            handle = JobHandle(job_id, request, resource, self._delivered, retry_of=retry_of)
            handle._context = JobContext(job_id, self._model_cache, functools.partial(self._on_progress, handle),
                                         functools.partial(self._on_candidate, handle))
            self._by_id[job_id] = handle
            self._post(events.Queued(job_id, request))
            if where == "back":
                self._pending.append(handle)
            else:
                self._pending.insert(0, handle)
                self._post_order()  # Queued alone would read as "appended"
            self._start_pool(resource)
            self._ready[resource].notify()
        return handle

    def _resolve(self, job: JobHandle | int) -> JobHandle:
        job_id = job.id if isinstance(job, JobHandle) else int(job)
        handle = self._by_id.get(job_id)
        if handle is None or (isinstance(job, JobHandle) and handle is not job):
            raise KeyError(f"job {job_id} does not belong to this queue")
        return handle

    def _set_paused(self, paused: bool) -> None:
        with self._lock:
            if self._paused == paused:
                return
            self._paused = paused
            self._post_order()
            if not paused:
                for ready in self._ready.values():
                    ready.notify_all()

    def _cancel_pending(self, handle: JobHandle) -> None:
        """Settle a job already taken out of `_pending` as cancelled."""
        handle.cancel_requested = True
        self._history.append(handle)
        self._settle(handle, JobStatus.CANCELLED)

    def _request_cancel(self, handle: JobHandle) -> None:
        handle.cancel_requested = True
        if handle._context is not None:
            handle._context.cancel()

    def _settle(
        self,
        handle: JobHandle,
        status: JobStatus,
        result: Any = None,
        error: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        assert not handle.status.is_terminal, f"job {handle.id} ended twice"
        handle.status = status
        handle.result = result
        handle.error = error
        handle.error_kind = kind
        handle.finished_at = time.time()
        if handle._context is not None:
            handle._context.cancel()  # a task that leaked its context into a thread sees it end
        handle._context = None  # drop the model cache reference with the job
        if status is JobStatus.COMPLETED:
            event: events.Event = events.Finished(handle.id, result)
        elif status is JobStatus.FAILED:
            event = events.Failed(handle.id, error or "the job failed", kind or "error")
        else:
            event = events.Cancelled(handle.id)
        self._post(event, settles=handle)

    def _post(self, event: events.Event, settles: Optional[JobHandle] = None) -> None:
        self._outbox.append((event, settles))
        self._posted += 1
        if self._event_thread is None:
            # Started on first use, and again if a call after shutdown posts an event.
            self._event_thread = threading.Thread(
                target=self._deliver_events, name="latent-studio-events", daemon=False
            )
            self._event_thread.start()
        else:
            self._events_ready.notify()

    def _post_order(self) -> None:
        self._post(events.QueueChanged(tuple(handle.id for handle in self._pending), self._paused))

    def _on_progress(self, handle: JobHandle, step: int, total: int, preview: Any) -> None:
        with self._lock:
            if self._post_while_running(handle, events.Progress(handle.id, step, total, preview)):
                handle.progress = (step, total)

    def _on_model_load(self, spec: Any) -> None:
        handle = getattr(self._running_here, "handle", None)
        if handle is not None:  # a load outside any job of ours (another queue, a direct call) is not ours
            self._post_while_running(handle, events.Loading(handle.id, spec.id))

    def _on_candidate(self, handle: JobHandle, index: int, path: str, seed: int) -> None:
        self._post_while_running(handle, events.CandidateReady(handle.id, index, path, seed))

    def _post_while_running(self, handle: JobHandle, event: events.Event) -> bool:
        """Post a task's own report; False (dropped) once the job has ended.

        A report after the end (from a thread the task left behind) would arrive after the
        job's terminal event.
        """
        with self._lock:
            if handle.status is not JobStatus.RUNNING:
                return False
            self._post(event)
            return True

    # -- internals: event delivery

    def _deliver_events(self) -> None:
        """The event thread: delivers the outbox in order until the queue is shut down and idle."""
        while True:
            with self._lock:
                while not self._outbox:
                    if self._closing and self._live_workers == 0:
                        # Retire so a later post starts a fresh thread; shutdown still joins us.
                        self._retired_event_threads.append(threading.current_thread())
                        self._event_thread = None
                        return
                    self._events_ready.wait()
                batch = list(self._outbox)
                self._outbox.clear()
            for event, _settles in batch:
                for _token, callback in self._subscribers:
                    try:
                        callback(event)
                    except Exception:
                        log.exception("event subscriber %r failed on %r", callback, event)
            with self._lock:
                for _event, settles in batch:
                    if settles is not None:
                        settles._settled = True
                self._delivered_count += len(batch)
                self._delivered.notify_all()

    # -- internals: workers

    def _start_pool(self, resource: str) -> None:
        pool = self._threads[resource]
        if pool:
            return
        for index in range(self._pool_sizes[resource]):
            self._live_workers += 1
            thread = threading.Thread(
                target=self._work, args=(resource,), name=f"latent-studio-{resource}-{index}", daemon=False
            )
            pool.append(thread)
            thread.start()

    def _next_job(self, resource: str) -> Optional[JobHandle]:
        if self._paused or self._closing:
            return None
        for index, handle in enumerate(self._pending):
            if handle.resource == resource:
                del self._pending[index]
                return handle
        return None

    def _work(self, resource: str) -> None:
        try:
            while True:
                taken = self._take(resource)
                if taken is None:
                    return
                self._run(*taken)
        finally:
            with self._lock:
                self._live_workers -= 1
                self._events_ready.notify()  # the event thread waits for the last worker to go

    def _take(self, resource: str) -> Optional[tuple[JobHandle, JobContext]]:
        """Block until a job of this resource may start and mark it running; None on shutdown."""
        ready = self._ready[resource]
        with self._lock:
            handle = self._next_job(resource)
            while handle is None:
                if self._closing:
                    return None
                ready.wait()
                handle = self._next_job(resource)
            handle.status = JobStatus.RUNNING
            handle.started_at = time.time()
            self._history.append(handle)
            self._post(events.Started(handle.id))
            assert handle._context is not None
            return handle, handle._context

    def _run(self, handle: JobHandle, context: JobContext) -> None:
        status, result, error, kind = JobStatus.COMPLETED, None, None, None
        self._running_here.handle = handle
        try:
            context.check_cancelled()  # cancelled between being taken and starting
            result = self._runner(handle.request, context)
        except Cancelled:
            status = JobStatus.CANCELLED
        except BaseException as exc:  # noqa: BLE001 - a worker must survive anything a task does
            status = JobStatus.FAILED
            error, kind = describe_error(exc, getattr(type(handle.request), "task", None))
            # a user's mistake is reported through the Failed event; only surprises deserve a traceback
            expected = isinstance(exc, StudioError)
            log.log(logging.INFO if expected else logging.ERROR, "job %s (%s) failed: %s", handle.id,
                    type(handle.request).__name__, error, exc_info=None if expected else exc)
        finally:
            self._running_here.handle = None
        with self._lock:
            # Decided under the lock, so cancel() either sees this job running (and it ends
            # Cancelled, its late result dropped) or sees it ended (and returns False).
            if handle.cancel_requested:
                status, result, error, kind = JobStatus.CANCELLED, None, None, None
            self._settle(handle, status, result, error, kind)

    def _register_exit_hook(self) -> None:
        """Shut down at interpreter exit if the owner forgot, so non-daemon workers can't hang it.

        threading's own exit hook (what concurrent.futures uses) runs before non-daemon threads
        are joined, unlike atexit. A weak reference keeps the hook from keeping the queue alive.
        """
        register = getattr(threading, "_register_atexit", None)
        if register is None:
            return
        queue_ref = weakref.ref(self)

        def at_exit() -> None:
            queue = queue_ref()
            if queue is not None:
                queue.shutdown(wait=False, cancel_running=True)

        try:
            register(at_exit)
        except RuntimeError:  # already shutting down
            pass
