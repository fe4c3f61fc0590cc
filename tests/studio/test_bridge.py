"""EngineBridge: events from worker threads arrive as signals on the GUI thread, in order."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from PySide6.QtCore import QThread

from engine import events
from engine.errors import BadInput
from engine.jobs import JobQueue, JobStatus
from studio.bridge import EngineBridge

TIMEOUT_MS = 10_000
BIG_SEED = 2**32 - 1  # seeds are unsigned 32-bit: past what a Qt int signal argument holds


@dataclass(frozen=True)
class GpuJob:
    task: ClassVar[str] = "test-gpu"
    resource: ClassVar[str] = "gpu"
    name: str
    steps: int = 0


@dataclass(frozen=True)
class CpuJob:
    task: ClassVar[str] = "test-cpu"
    resource: ClassVar[str] = "cpu"
    name: str
    steps: int = 0


def task(request: Any, ctx) -> str:
    for step in range(1, request.steps + 1):
        ctx.report(step, request.steps, preview=step)
    if request.steps:
        ctx.candidate_ready(0, f"{request.name}.png", BIG_SEED)
    if request.name == "fail":
        raise BadInput("The prompt is empty; type what to draw.")
    return request.name


class DirectRecorder:
    """A plain subscriber: the order the queue delivered events in, on whatever thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[events.Event] = []
        self.threads: set[int] = set()

    def __call__(self, event: events.Event) -> None:
        with self.lock:
            self.events.append(event)
            self.threads.add(threading.get_ident())


@pytest.fixture
def queue():
    with JobQueue(runner=task, cpu_workers=2) as queue:
        yield queue


@pytest.fixture
def bridge(qtbot, queue):
    bridge = EngineBridge(queue)
    yield bridge
    bridge.close()


def test_events_from_workers_arrive_on_the_gui_thread_in_order(qtbot, queue):
    direct = DirectRecorder()
    queue.subscribe(direct)  # before the bridge, so both see every event
    bridge = EngineBridge(queue)
    gui_thread = QThread.currentThread()
    received: list[events.Event] = []
    on_gui_thread: list[bool] = []

    def slot(event):
        received.append(event)
        on_gui_thread.append(QThread.currentThread() == gui_thread)

    bridge.event.connect(slot)
    handles = [queue.submit(GpuJob(f"g{i}", steps=25)) for i in range(4)]
    handles += [queue.submit(CpuJob(f"c{i}", steps=25)) for i in range(4)]
    qtbot.waitUntil(lambda: sum(isinstance(e, events.Finished) for e in received) == 8, timeout=TIMEOUT_MS)
    assert all(h.wait(10) for h in handles)

    assert threading.get_ident() not in direct.threads  # the queue delivered them off this thread
    assert len(received) == 8 * (3 + 25 + 1) and all(on_gui_thread)  # Queued, Started, Finished, steps, candidate
    assert received == direct.events  # same events, same order
    for handle in handles:
        steps = [e.step for e in received if isinstance(e, events.Progress) and e.job_id == handle.id]
        assert steps == list(range(1, 26))
    bridge.close()


def test_typed_signals_carry_the_event_fields(qtbot, queue, bridge):
    seen: list[tuple] = []
    gui_thread = QThread.currentThread()

    def record(name):
        def slot(*args):
            assert QThread.currentThread() == gui_thread
            seen.append((name, *args))
        return slot

    for name in ("queued", "started", "progress", "candidate_ready", "finished", "failed", "cancelled", "queue_changed"):
        getattr(bridge, name).connect(record(name))

    queue.pause()  # so both submits land before anything starts: one possible order
    ok = queue.submit(GpuJob("ok", steps=2))
    bad = queue.submit(GpuJob("fail"))
    queue.resume()
    assert ok.wait(10) and bad.wait(10)
    queue.pause()
    dropped = queue.submit(CpuJob("later"))
    queue.cancel(dropped)
    qtbot.waitUntil(lambda: ("cancelled", dropped.id) in seen, timeout=TIMEOUT_MS)

    assert seen == [
        ("queue_changed", events.QueueChanged((), True)),
        ("queued", ok.id, GpuJob("ok", steps=2)),
        ("queued", bad.id, GpuJob("fail")),
        ("queue_changed", events.QueueChanged((ok.id, bad.id), False)),
        ("started", ok.id),
        ("progress", ok.id, 1, 2, 1),
        ("progress", ok.id, 2, 2, 2),
        ("candidate_ready", ok.id, 0, "ok.png", BIG_SEED),
        ("finished", ok.id, "ok"),
        ("started", bad.id),
        ("failed", bad.id, "The prompt is empty; type what to draw.", "bad_input"),
        ("queue_changed", events.QueueChanged((), True)),
        ("queued", dropped.id, CpuJob("later")),
        ("cancelled", dropped.id),
    ]
    assert bad.status is JobStatus.FAILED


def test_close_stops_the_signals(qtbot, queue, bridge):
    received = []
    bridge.event.connect(received.append)
    first = queue.submit(GpuJob("a"))
    qtbot.waitUntil(lambda: events.Finished(first.id, "a") in received, timeout=TIMEOUT_MS)
    bridge.close()
    count = len(received)
    second = queue.submit(GpuJob("b"))
    assert second.wait(10)
    qtbot.wait(20)  # let any stray posted event through
    assert len(received) == count


def test_a_deleted_bridge_unsubscribes_itself(qtbot, queue, caplog):
    import shiboken6

    bridge = EngineBridge(queue)
    bridge.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(bridge), timeout=TIMEOUT_MS)
    handle = queue.submit(GpuJob("after"))
    assert handle.wait(10) and handle.result == "after"
    assert "subscriber" not in caplog.text  # nobody called into the deleted object
