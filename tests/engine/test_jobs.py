"""The job queue, run for real with small plain-Python tasks as its runner.

Tasks are plain functions of (request, context) by design, so these are the real queue and
workers; only the work inside a job is trivial. Ordering is forced with Events and barriers,
never with sleeps; the few short timeouts below only bound negative checks ("did not start").
"""

from __future__ import annotations

import logging
import random
import threading
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import pytest

from engine import events
from engine.errors import BadInput, Cancelled, OutOfMemory
from engine.jobs import OUT_OF_MEMORY_MESSAGE, JobContext, JobHandle, JobQueue, JobStatus, TaskContext, describe_error

TIMEOUT = 10.0  # generous: only reached when something is broken
TERMINAL_EVENTS = (events.Finished, events.Failed, events.Cancelled)


@dataclass(frozen=True)
class GpuJob:
    task: ClassVar[str] = "test-gpu"
    resource: ClassVar[str] = "gpu"
    name: str = ""


@dataclass(frozen=True)
class CpuJob:
    task: ClassVar[str] = "test-cpu"
    resource: ClassVar[str] = "cpu"
    name: str = ""


class Recorder:
    """A subscriber that keeps every event, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[events.Event] = []

    def __call__(self, event: events.Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, job: JobHandle) -> list[events.Event]:
        with self._lock:
            return [e for e in self.events if getattr(e, "job_id", None) == job.id]

    def kinds(self, job: JobHandle) -> list[str]:
        return [type(e).__name__ for e in self.of(job)]

    def of_type(self, kind: type) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def make_queue():
    """JobQueue(runner, ...) plus a Recorder subscribed to it; every queue is shut down after."""
    queues: list[JobQueue] = []

    def make(runner: Callable[[Any, JobContext], Any], **kwargs: Any) -> tuple[JobQueue, Recorder]:
        queue = JobQueue(runner=runner, **kwargs)
        queues.append(queue)
        recorder = Recorder()
        queue.subscribe(recorder)
        return queue, recorder

    yield make
    for queue in queues:
        queue.shutdown(wait=True, cancel_running=True)


def echo(request: Any, ctx: JobContext) -> str:
    return request.name


def wait_all(handles: list[JobHandle]) -> None:
    for handle in handles:
        assert handle.wait(TIMEOUT), f"{handle!r} did not end"


class Gate:
    """Holds a task inside its job until released (or cancelled): `entered` says it got there."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self, ctx: JobContext) -> None:
        self.entered.set()
        assert self.release.wait(TIMEOUT), "gate never released"


# --- basics -------------------------------------------------------------------------------------


def test_submit_returns_a_handle_at_once_and_the_job_completes(make_queue):
    gate = Gate()
    queue, rec = make_queue(lambda request, ctx: (gate.hold(ctx), request.name)[1], model_cache="the-cache")

    handle = queue.submit(GpuJob("a"))
    assert handle.status in (JobStatus.PENDING, JobStatus.RUNNING)  # submit did not wait for the job
    assert gate.entered.wait(TIMEOUT)
    assert handle.status is JobStatus.RUNNING and handle.started_at is not None and handle.finished_at is None
    gate.release.set()

    assert handle.wait(TIMEOUT)
    assert handle.status is JobStatus.COMPLETED and handle.status == "completed" and handle.done
    assert handle.result == "a" and handle.error is None and handle.error_kind is None
    assert handle.submitted_at <= handle.started_at <= handle.finished_at
    # wait() returns only after the terminal event reached subscribers
    assert rec.kinds(handle) == ["Queued", "Started", "Finished"]
    assert rec.of(handle)[0] == events.Queued(handle.id, GpuJob("a"))
    assert rec.of(handle)[-1] == events.Finished(handle.id, "a")


def test_context_carries_job_id_and_model_cache(make_queue):
    seen = {}

    def task(request, ctx):
        seen.update(job_id=ctx.job_id, model_cache=ctx.model_cache, cancelled=ctx.cancelled,
                    is_task_context=isinstance(ctx, TaskContext))

    queue, _ = make_queue(task, model_cache={"cache": 1})
    handle = queue.submit(GpuJob())
    wait_all([handle])
    assert seen == {"job_id": handle.id, "model_cache": {"cache": 1}, "cancelled": False, "is_task_context": True}


def test_every_task_context_implements_the_protocol(direct_context):
    """JobContext, compare's per-side context and the tests' direct context are all TaskContexts,
    and the protocol names every member tasks use of them."""
    from engine.tasks.compare import _Half

    members = {"model_cache", "report", "check_cancelled", "candidate_ready"}
    assert members <= set(dir(TaskContext)) | set(TaskContext.__annotations__)
    for context in (JobContext(1), _Half(JobContext(1), 0), direct_context):
        assert isinstance(context, TaskContext), type(context).__name__


def test_bad_requests_are_refused_at_submit(make_queue):
    @dataclass(frozen=True)
    class NoResource:
        task: ClassVar[str] = "x"

    queue, _ = make_queue(echo)
    with pytest.raises(ValueError, match="resource"):
        queue.submit(NoResource())
    with pytest.raises(ValueError, match="where"):
        queue.submit(GpuJob(), where="middle")
    other, _ = make_queue(echo)
    foreign = other.submit(GpuJob())
    with pytest.raises(KeyError):
        queue.cancel(foreign)


# --- ordering -------------------------------------------------------------------------------------


def run_order(queue: JobQueue, handles: list[JobHandle], order: list[str]) -> list[str]:
    queue.resume()
    wait_all(handles)
    return order


def test_submit_back_and_front_set_the_order_jobs_start_in(make_queue):
    order: list[str] = []
    queue, rec = make_queue(lambda request, ctx: order.append(request.name))
    queue.pause()
    a = queue.submit(GpuJob("a"))
    b = queue.submit(GpuJob("b"))
    c = queue.submit(GpuJob("c"), where="front")
    assert queue.pending() == [c, a, b] and queue.jobs() == [c, a, b]
    assert queue.flush(TIMEOUT)
    assert rec.of_type(events.QueueChanged)[-1] == events.QueueChanged((c.id, a.id, b.id), True)
    assert run_order(queue, [a, b, c], order) == ["c", "a", "b"]
    assert queue.jobs() == [c, a, b] and queue.pending() == []


def test_move_reorders_pending_jobs_across_the_whole_queue(make_queue):
    order: list[str] = []
    queue, rec = make_queue(lambda request, ctx: order.append(request.name))
    queue.pause()
    a, b, c, d = (queue.submit(GpuJob(n)) for n in "abcd")
    cpu = queue.submit(CpuJob("cpu"))

    assert queue.move(d, 0) is True
    assert queue.move(a, 99) is True  # past the end: last
    assert queue.move(b.id, -5) is True  # ids work too; before the start: first
    assert queue.pending() == [b, d, c, cpu, a]
    assert queue.flush(TIMEOUT)
    assert rec.of_type(events.QueueChanged)[-1].order == (b.id, d.id, c.id, cpu.id, a.id)

    run_order(queue, [a, b, c, d, cpu], order)
    assert [n for n in order if n != "cpu"] == ["b", "d", "c", "a"]
    assert queue.move(a, 0) is False  # no longer pending: nothing changes


# --- cancelling ----------------------------------------------------------------------------------


def test_cancel_pending_removes_it_at_once(make_queue):
    order: list[str] = []
    queue, rec = make_queue(lambda request, ctx: order.append(request.name))
    queue.pause()
    a, b = queue.submit(GpuJob("a")), queue.submit(GpuJob("b"))

    assert queue.cancel(a) is True
    assert a.status is JobStatus.CANCELLED and a.cancel_requested  # at once, before any event
    assert a.wait(TIMEOUT)
    assert rec.kinds(a) == ["Queued", "Cancelled"]
    assert queue.pending() == [b]
    assert queue.cancel(a) is False  # already ended

    run_order(queue, [b], order)
    assert order == ["b"]


def test_cancel_running_stops_a_task_at_its_next_check(make_queue):
    looping = threading.Event()

    def task(request, ctx):
        if request.name == "next":
            return "ran"
        while True:
            ctx.check_cancelled()
            looping.set()
            ctx.cancel_event.wait(0.01)  # stand-in for a denoising step

    queue, rec = make_queue(task)
    loop = queue.submit(GpuJob("loop"))
    after = queue.submit(GpuJob("next"))
    assert looping.wait(TIMEOUT)
    assert queue.cancel(loop) is True
    assert loop.cancel_requested

    wait_all([loop, after])
    assert loop.status is JobStatus.CANCELLED and loop.result is None
    assert rec.kinds(loop) == ["Queued", "Started", "Cancelled"]
    assert after.status is JobStatus.COMPLETED and after.result == "ran"


def test_a_cancelled_jobs_late_result_is_dropped(make_queue):
    gate = Gate()

    def stubborn(request, ctx):
        gate.hold(ctx)  # never checks for cancel
        return "late"

    queue, rec = make_queue(stubborn)
    handle = queue.submit(GpuJob())
    assert gate.entered.wait(TIMEOUT)
    queue.cancel(handle)
    assert handle.status is JobStatus.RUNNING  # running jobs stop at their own pace
    gate.release.set()

    wait_all([handle])
    assert handle.status is JobStatus.CANCELLED and handle.result is None
    assert rec.kinds(handle) == ["Queued", "Started", "Cancelled"]


def test_an_error_after_cancel_still_ends_cancelled(make_queue):
    gate = Gate()

    def task(request, ctx):
        gate.hold(ctx)
        raise RuntimeError("torn down mid-step")

    queue, rec = make_queue(task)
    handle = queue.submit(GpuJob())
    assert gate.entered.wait(TIMEOUT)
    queue.cancel(handle)
    gate.release.set()
    wait_all([handle])
    assert handle.status is JobStatus.CANCELLED and rec.kinds(handle)[-1] == "Cancelled"


def test_clear_cancels_every_pending_job(make_queue):
    queue, rec = make_queue(echo)
    queue.pause()
    handles = [queue.submit(GpuJob(str(i))) for i in range(3)] + [queue.submit(CpuJob("x"))]
    assert queue.clear() == 4
    assert queue.pending() == []
    assert all(h.status is JobStatus.CANCELLED for h in handles)
    assert queue.flush(TIMEOUT)
    assert rec.of_type(events.QueueChanged)[-1] == events.QueueChanged((), True)
    assert queue.clear() == 0


# --- diffusers adapter ---------------------------------------------------------------------------


class FakePipe:
    """Just the part of a diffusers pipeline the adapter may touch."""

    def __init__(self) -> None:
        self._interrupt = False

    @property
    def interrupt(self) -> bool:  # what tells the adapter this pipeline honours the flag, as diffusers' do
        return self._interrupt

    def __call__(self, steps: int, callback_on_step_end) -> int:
        done = 0
        for i in range(steps):
            if self._interrupt:  # diffusers skips the remaining steps the same way
                continue
            kwargs = {"latents": np.full((1, 4, 2, 2), float(i))}
            assert callback_on_step_end(self, i, 1000 - i, kwargs) is kwargs
            done += 1
        return done


def test_diffusers_callback_reports_progress_and_interrupts_the_pipe_on_cancel():
    reports = []
    ctx = JobContext(7, on_progress=lambda step, total, preview: reports.append((step, total, preview)))
    callback = ctx.diffusers_callback(total=10, preview_fn=lambda latents: latents[0, :3].mean(axis=0))
    pipe = FakePipe()

    kwargs = {"latents": np.ones((1, 4, 2, 2)), "prompt_embeds": "untouched"}
    assert callback(pipe, 0, 999, kwargs) is kwargs
    assert kwargs["prompt_embeds"] == "untouched"
    (step, total, preview), = reports
    assert (step, total) == (1, 10) and np.array_equal(preview, np.ones((2, 2)))
    assert pipe._interrupt is False and not ctx.interrupted

    ctx.cancel()
    callback(pipe, 1, 998, kwargs)
    assert pipe._interrupt is True and ctx.interrupted
    with pytest.raises(Cancelled):
        ctx.check_cancelled()


def test_diffusers_callback_survives_a_broken_preview():
    reports = []
    ctx = JobContext(1, on_progress=lambda *report: reports.append(report))

    def broken(latents):
        raise ValueError("bad preview")

    FakePipe()(2, ctx.diffusers_callback(total=2, preview_fn=broken))
    assert reports == [(1, 2, None), (2, 2, None)]


def test_a_pipeline_job_cancelled_mid_denoise_ends_cancelled(make_queue):
    cancel_now = threading.Event()
    outcome = {}

    def pipeline_task(request, ctx):
        pipe = FakePipe()
        callback = ctx.diffusers_callback(total=20)

        def on_step(pipe_, i, t, kwargs):
            if i == 4:
                cancel_now.set()
                assert ctx.cancel_event.wait(TIMEOUT)  # the cancel lands mid-step
            return callback(pipe_, i, t, kwargs)

        outcome["steps"] = pipe(20, on_step)
        ctx.check_cancelled()  # after the pipeline returns, as tasks do
        return "image"

    queue, rec = make_queue(pipeline_task)
    handle = queue.submit(GpuJob())
    assert cancel_now.wait(TIMEOUT)
    queue.cancel(handle)
    wait_all([handle])

    assert handle.status is JobStatus.CANCELLED
    assert outcome["steps"] == 5  # the remaining 15 steps were skipped
    steps = [e.step for e in rec.of_type(events.Progress)]
    assert steps == [1, 2, 3, 4, 5] and handle.progress == (5, 20)


# --- pause, retry, failures ----------------------------------------------------------------------


def test_pause_lets_running_jobs_finish_and_starts_nothing_new(make_queue):
    gate = Gate()
    queue, rec = make_queue(lambda request, ctx: gate.hold(ctx) if request.name == "first" else request.name)
    first = queue.submit(GpuJob("first"))
    assert gate.entered.wait(TIMEOUT)
    queue.pause()
    assert queue.paused
    second = queue.submit(GpuJob("second"))
    export = queue.submit(CpuJob("export"))
    gate.release.set()

    assert first.wait(TIMEOUT) and first.status is JobStatus.COMPLETED
    assert not second.wait(0.05) and not export.wait(0.01)  # bounded negative check
    assert second.status is JobStatus.PENDING and export.status is JobStatus.PENDING

    queue.resume()
    wait_all([second, export])
    assert second.result == "second" and export.result == "export"
    assert queue.flush(TIMEOUT)
    changes = rec.of_type(events.QueueChanged)
    assert [c.paused for c in changes] == [True, False]


def test_retry_resubmits_a_failed_job_as_a_new_one(make_queue):
    attempts = Counter()

    def flaky(request, ctx):
        attempts[request.name] += 1
        if attempts[request.name] == 1:
            raise BadInput("The image could not be read; pick another file.")
        return "ok"

    queue, _ = make_queue(flaky)
    failed = queue.submit(GpuJob("x"))
    wait_all([failed])
    assert failed.status is JobStatus.FAILED

    again = queue.retry(failed)
    assert again is not failed and again.id != failed.id
    assert again.request is failed.request and again.retry_of == failed.id
    wait_all([again])
    assert again.status is JobStatus.COMPLETED and again.result == "ok"
    assert failed.status is JobStatus.FAILED  # the old job keeps its history
    with pytest.raises(ValueError, match="failed or cancelled"):
        queue.retry(again)


def test_retry_of_a_cancelled_job(make_queue):
    queue, _ = make_queue(echo)
    queue.pause()
    job = queue.submit(GpuJob("x"))
    queue.cancel(job)
    again = queue.retry(job, where="front")
    queue.resume()
    wait_all([again])
    assert again.result == "x"


def test_a_failing_job_does_not_stop_the_queue(make_queue):
    def task(request, ctx):
        if request.name == "boom":
            raise ValueError("bad value")
        if request.name == "studio":
            raise BadInput("The mask is empty; paint the area to change.")
        if request.name == "bare":
            raise KeyError
        return request.name

    queue, rec = make_queue(task)
    handles = [queue.submit(GpuJob(n)) for n in ("ok1", "boom", "studio", "bare", "ok2")]
    wait_all(handles)
    ok1, boom, studio, bare, ok2 = handles
    assert ok1.status is ok2.status is JobStatus.COMPLETED
    bug = "The test-gpu job stopped on an unexpected error ({}). This is a bug: please report it with the log."
    assert (boom.status, boom.error, boom.error_kind) == (JobStatus.FAILED, bug.format("ValueError: bad value"), "error")
    assert (studio.error, studio.error_kind) == ("The mask is empty; paint the area to change.", "bad_input")
    assert bare.error == bug.format("KeyError")
    assert rec.of(boom)[-1] == events.Failed(boom.id, bug.format("ValueError: bad value"), "error")


def test_an_unexpected_error_says_which_job_it_stopped_and_logs_its_traceback(make_queue, tmp_path, caplog):
    """A bug in a task (here a real clip request whose runner trips over a bad value) reads as one
    sentence naming the job, never a bare 'ValueError: ...'; the traceback goes to the log."""
    from engine.api import ClipRequest

    def broken_clip_task(request, ctx):
        raise ValueError("frames must be 8k+1, got 12")

    queue, rec = make_queue(broken_clip_task)
    with caplog.at_level(logging.ERROR, logger="engine.jobs"):
        handle = queue.submit(ClipRequest(prompt="a boat", output_dir=str(tmp_path)))
        wait_all([handle])
    message = ("The clip job stopped on an unexpected error (ValueError: frames must be 8k+1, got 12). "
               "This is a bug: please report it with the log.")
    assert (handle.status, handle.error, handle.error_kind) == (JobStatus.FAILED, message, "error")
    assert rec.of(handle)[-1] == events.Failed(handle.id, message, "error")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info and "broken_clip_task" in "".join(traceback.format_exception(*record.exc_info))


class OutOfMemoryError(RuntimeError):
    """Named like torch.OutOfMemoryError, which the queue recognises without importing torch."""


@pytest.mark.parametrize(
    "exc",
    [MemoryError(), OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
     RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)")],
    ids=["MemoryError", "torch-OutOfMemoryError", "RuntimeError-mps"],
)
def test_out_of_memory_becomes_advice(exc):
    message, kind = describe_error(exc)
    assert kind == "out_of_memory" and message == OUT_OF_MEMORY_MESSAGE
    assert "fewer candidates" in message and "smaller image size" in message


def test_out_of_memory_through_the_queue(make_queue):
    def task(request, ctx):
        raise MemoryError()

    queue, rec = make_queue(task)
    handle = queue.submit(GpuJob())
    wait_all([handle])
    assert handle.error_kind == "out_of_memory" and handle.error == OUT_OF_MEMORY_MESSAGE
    assert describe_error(OutOfMemory("The VAE decode ran out of memory; lower the size.")) == (
        "The VAE decode ran out of memory; lower the size.", "out_of_memory")


# --- events ---------------------------------------------------------------------------------------


def test_events_are_keyed_by_job_and_ordered_per_job(make_queue):
    def task(request, ctx):
        total = int(request.name)
        for step in range(1, total + 1):
            ctx.report(step, total, preview=("p", step))
        return total

    queue, rec = make_queue(task, cpu_workers=2)
    handles = [queue.submit(GpuJob(str(n))) for n in (3, 5)] + [queue.submit(CpuJob(str(n))) for n in (2, 4)]
    wait_all(handles)

    for handle in handles:
        total = int(handle.request.name)
        expected = (
            [events.Queued(handle.id, handle.request), events.Started(handle.id)]
            + [events.Progress(handle.id, s, total, ("p", s)) for s in range(1, total + 1)]
            + [events.Finished(handle.id, total)]
        )
        assert rec.of(handle) == expected
        assert handle.progress == (total, total)


def test_each_saved_candidate_is_announced_before_the_job_ends_and_not_after(make_queue):
    contexts = []

    def task(request, ctx):
        contexts.append(ctx)
        for index in range(2):
            ctx.report(index + 1, 2)
            ctx.candidate_ready(index, f"c{index}.png", 2**32 - 1 - index)
        return "both"

    queue, rec = make_queue(task)
    handle = queue.submit(GpuJob())
    wait_all([handle])
    contexts[0].candidate_ready(2, "late.png", 7)  # from a thread the task left behind
    assert queue.flush(TIMEOUT)
    assert rec.of(handle)[2:] == [
        events.Progress(handle.id, 1, 2), events.CandidateReady(handle.id, 0, "c0.png", 2**32 - 1),
        events.Progress(handle.id, 2, 2), events.CandidateReady(handle.id, 1, "c1.png", 2**32 - 2),
        events.Finished(handle.id, "both"),
    ]


def test_subscriber_exceptions_are_contained_and_unsubscribe_works(make_queue):
    queue, rec = make_queue(echo)

    def broken(event):
        raise RuntimeError("subscriber bug")

    queue.subscribe(broken)
    later = Recorder()
    unsubscribe = queue.subscribe(later)
    first = queue.submit(GpuJob("a"))
    wait_all([first])
    assert first.status is JobStatus.COMPLETED
    assert later.kinds(first) == ["Queued", "Started", "Finished"]

    unsubscribe()
    unsubscribe()  # idempotent
    second = queue.submit(GpuJob("b"))
    wait_all([second])
    assert rec.kinds(second) == ["Queued", "Started", "Finished"] and later.of(second) == []


def test_events_are_delivered_off_the_callers_thread_and_a_slow_subscriber_holds_up_no_job(make_queue):
    queue, rec = make_queue(echo)
    threads: set[int] = set()
    unblock = threading.Event()

    def slow(event):
        threads.add(threading.get_ident())
        assert unblock.wait(TIMEOUT)

    queue.subscribe(slow)
    first = queue.submit(GpuJob("a"))  # returns although the subscriber is stuck on Queued
    second = queue.submit(GpuJob("b"))
    assert not first.wait(0.01)  # its events are not through yet...
    unblock.set()
    wait_all([first, second])  # ...though the jobs could run meanwhile
    assert first.result == "a" and second.result == "b"
    assert threading.get_ident() not in threads and len(threads) == 1  # one event thread delivers
    assert rec.kinds(second) == ["Queued", "Started", "Finished"]


def test_a_subscriber_may_call_back_into_the_queue(make_queue):
    queue, rec = make_queue(echo)
    follow_ups: list[JobHandle] = []

    def chain(event):
        # e.g. a view-model queueing the export of a finished generation
        if isinstance(event, events.Finished) and event.result == "first":
            follow_ups.append(queue.submit(CpuJob("export")))

    queue.subscribe(chain)
    wait_all([queue.submit(GpuJob("first"))])
    (export,) = follow_ups
    wait_all([export])
    assert export.result == "export"


# --- resources and threads -----------------------------------------------------------------------


def test_gpu_jobs_never_overlap_and_run_in_queue_order(make_queue):
    lock = threading.Lock()
    state = {"active": 0, "max": 0}
    order: list[str] = []
    second_entered = threading.Event()

    def task(request, ctx):
        with lock:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
            order.append(request.name)
            if len(order) > 1:
                second_entered.set()
        if request.name == "0":
            # Hold the first job open: a second GPU worker, if there were one, would start the
            # next job now. A correct queue keeps this a bounded wait that times out.
            second_entered.wait(0.1)
        with lock:
            state["active"] -= 1

    queue, _ = make_queue(task, cpu_workers=4)
    names = [str(i) for i in range(30)]
    wait_all([queue.submit(GpuJob(n)) for n in names])
    assert state["max"] == 1
    assert order == names


def test_cpu_workers_run_side_by_side(make_queue):
    both_in = threading.Barrier(2, timeout=TIMEOUT)  # breaks (and the test fails) if they ran one by one
    queue, _ = make_queue(lambda request, ctx: both_in.wait() is not None, cpu_workers=2)
    handles = [queue.submit(CpuJob(str(i))) for i in range(2)]
    wait_all(handles)
    assert [h.status for h in handles] == [JobStatus.COMPLETED] * 2


def test_a_cpu_job_completes_while_a_long_gpu_job_runs(make_queue):
    gate = Gate()
    queue, _ = make_queue(lambda request, ctx: gate.hold(ctx) if request.resource == "gpu" else "exported")
    generation = queue.submit(GpuJob("long"))
    assert gate.entered.wait(TIMEOUT)
    queued_gpu = queue.submit(GpuJob("behind"))
    export = queue.submit(CpuJob("export"))

    assert export.wait(TIMEOUT) and export.result == "exported"
    assert generation.status is JobStatus.RUNNING and queued_gpu.status is JobStatus.PENDING
    gate.release.set()
    wait_all([generation, queued_gpu])


def test_concurrent_submit_cancel_move_from_many_threads(make_queue):
    def task(request, ctx):
        for _ in range(int(request.name) % 5):
            ctx.check_cancelled()
            ctx.report(1, 1)
        return request.name

    queue, rec = make_queue(task, cpu_workers=2)
    handles: list[JobHandle] = []
    handles_lock = threading.Lock()
    start = threading.Barrier(8, timeout=TIMEOUT)
    errors: list[BaseException] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for i in range(40):
                kind = GpuJob if rng.random() < 0.6 else CpuJob
                handle = queue.submit(kind(str(seed * 100 + i)), where=rng.choice(["back", "front"]))
                with handles_lock:
                    handles.append(handle)
                    someone = rng.choice(handles)
                action = rng.random()
                if action < 0.3:
                    queue.cancel(someone)
                elif action < 0.6:
                    queue.move(someone, rng.randrange(-2, 20))
                elif action < 0.65:
                    queue.pause() if rng.random() < 0.5 else queue.resume()
        except BaseException as exc:  # surfaced below, not lost in a thread
            errors.append(exc)

    clients = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(TIMEOUT)
    assert errors == [] and not any(t.is_alive() for t in clients)
    queue.resume()
    wait_all(handles)

    assert len(handles) == 320 and len({h.id for h in handles}) == 320
    assert queue.pending() == [] and sorted(h.id for h in queue.jobs()) == sorted(h.id for h in handles)
    per_job: dict[int, list[events.Event]] = defaultdict(list)
    for event in rec.events:
        if hasattr(event, "job_id"):
            per_job[event.job_id].append(event)
    status_of_event = {events.Finished: JobStatus.COMPLETED, events.Failed: JobStatus.FAILED,
                       events.Cancelled: JobStatus.CANCELLED}
    for handle in handles:
        seen = per_job[handle.id]
        terminal = [e for e in seen if isinstance(e, TERMINAL_EVENTS)]
        assert len(terminal) == 1, (handle, seen)
        assert isinstance(seen[0], events.Queued) and seen[-1] is terminal[0]
        assert sum(isinstance(e, events.Started) for e in seen) <= 1
        assert status_of_event[type(terminal[0])] is handle.status
    assert all(h.status is not JobStatus.FAILED for h in handles)


def test_shutdown_joins_every_thread_and_cancels_what_is_left():
    before = set(threading.enumerate())
    running = threading.Event()

    def task(request, ctx):
        if request.name == "loop":
            running.set()
            while True:
                ctx.check_cancelled()
                ctx.cancel_event.wait(0.01)
        return request.name

    rec = Recorder()
    with JobQueue(runner=task, cpu_workers=3) as queue:
        queue.subscribe(rec)
        done = queue.submit(CpuJob("quick"))
        wait_all([done])
        loop = queue.submit(GpuJob("loop"))
        assert running.wait(TIMEOUT)
        waiting = queue.submit(GpuJob("never"))
        assert len(set(threading.enumerate()) - before) == 5  # 1 GPU + 3 CPU workers + the event thread
    assert set(threading.enumerate()) == before
    assert loop.status is JobStatus.CANCELLED and waiting.status is JobStatus.CANCELLED
    assert rec.kinds(waiting) == ["Queued", "Cancelled"]
    assert done.status is JobStatus.COMPLETED
    with pytest.raises(RuntimeError, match="shut down"):
        queue.submit(GpuJob())
    queue.shutdown()  # idempotent


def test_shutdown_without_cancel_lets_running_jobs_finish():
    before = set(threading.enumerate())
    gate = Gate()
    queue = JobQueue(runner=lambda request, ctx: (gate.hold(ctx), "finished")[1])
    handle = queue.submit(GpuJob())
    assert gate.entered.wait(TIMEOUT)
    queue.shutdown(wait=False, cancel_running=False)
    gate.release.set()
    queue.shutdown(wait=True, cancel_running=False)
    assert handle.status is JobStatus.COMPLETED and handle.result == "finished"
    assert set(threading.enumerate()) == before


def test_an_unused_queue_starts_no_threads():
    before = set(threading.enumerate())
    queue = JobQueue(runner=echo)
    assert set(threading.enumerate()) == before
    queue.shutdown()
