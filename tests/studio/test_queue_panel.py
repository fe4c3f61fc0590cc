"""The queue panel and its JobListModel, over a real JobQueue and EngineBridge.

The engine is faked the sanctioned way: tasks are plain functions of (request, context), so a
scripted runner stands in for the diffusers tasks. A job named in `Script.holds` waits at a gate
after its steps, which keeps the one GPU worker busy and the jobs behind it pending.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QImage

from engine import api
from engine.errors import BadInput
from engine.jobs import JobQueue, JobStatus
from studio.bridge import EngineBridge
from studio.images import to_qimage
from studio.viewmodels.job_list import JOB_IDS_MIME, JobListModel, describe_request
from studio.widgets.queue_panel import QueuePanel

TIMEOUT_MS = 10_000
FAIL_MESSAGE = "The prompt is empty; type what to draw, then retry."


@dataclass(frozen=True)
class Job:
    task: ClassVar[str] = "test-gpu"
    resource: ClassVar[str] = "gpu"
    name: str
    steps: int = 0
    hold: bool = False  # wait at the job's gate after the steps
    fail: bool = False


@dataclass
class Plan:
    steps: int = 0
    hold: bool = False
    error: Optional[Exception] = None


class Script:
    """The runner. A `Job` carries its own plan; any other request (the real engine.api ones)
    follows the plan given with `script.plan(request, ...)`.

    A Job's previews are flat grey, 10 x step; planned requests get a colour gradient.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[Any, threading.Event] = {}
        self._plans: dict[Any, Plan] = {}

    def plan(self, request: Any, steps: int = 0, hold: bool = False, error: Optional[Exception] = None) -> Any:
        self._plans[request] = Plan(steps, hold, error)
        return request

    def gate(self, request: Any) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(request, threading.Event())

    def release(self, request: Any) -> None:
        self.gate(request).set()

    def __call__(self, request: Any, ctx: Any) -> Any:
        if isinstance(request, Job):
            plan = Plan(request.steps, request.hold, BadInput(FAIL_MESSAGE) if request.fail else None)
        else:
            plan = self._plans.get(request, Plan())
        for step in range(1, plan.steps + 1):
            ctx.report(step, plan.steps, preview=self._preview(request, step, plan.steps))
        if plan.hold:
            gate = self.gate(request)
            while not gate.wait(0.01):
                ctx.check_cancelled()
        if plan.error is not None:
            raise plan.error
        return getattr(request, "name", type(request).__name__)

    @staticmethod
    def _preview(request: Any, step: int, total: int) -> np.ndarray:
        if isinstance(request, Job):
            return np.full((6, 8, 3), 10 * step, dtype=np.uint8)
        y, x = np.mgrid[0:32, 0:32].astype(np.float32) / 31.0
        sharp = step / total
        rgb = np.stack([0.25 + 0.6 * x * sharp, 0.3 + 0.3 * y, 0.8 - 0.5 * x * y * sharp], axis=-1)
        return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def queue(script):
    queue = JobQueue(runner=script)
    yield queue
    queue.shutdown()


@pytest.fixture
def bridge(qtbot, queue):
    bridge = EngineBridge(queue)
    yield bridge
    bridge.close()


@pytest.fixture
def model(bridge, queue):
    return JobListModel(queue, bridge)


@pytest.fixture
def panel(qtbot, model, queue):
    panel = QueuePanel(model, queue)
    panel.resize(340, 460)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def ids(model: JobListModel) -> list[int]:
    return [model.job_id_at(row) for row in range(model.rowCount())]


def role(model: JobListModel, job_id: int, role: int) -> Any:
    return model.data(model.index(model.row_of(job_id)), role)


def status(model: JobListModel, job_id: int) -> Optional[str]:
    return role(model, job_id, JobListModel.StatusRole)


def mirrors_queue(model: JobListModel, queue: JobQueue) -> bool:
    return ids(model) == [h.id for h in queue.jobs()] and model.pending_ids() == [h.id for h in queue.pending()]


def start_holding(qtbot, queue, model, name: str = "hold", steps: int = 0):
    """Submit a job that keeps the GPU worker busy until released; wait until it runs."""
    handle = queue.submit(Job(name, steps=steps, hold=True))
    qtbot.waitUntil(lambda: status(model, handle.id) == "running", timeout=TIMEOUT_MS)
    return handle


# --- titles and previews -------------------------------------------------------------------


def test_describe_request_titles():
    prompt = "a red circle on the left and a blue square on the right, at dusk"
    title = describe_request(api.GenerateRequest(prompt=prompt, output_dir="/o", count=4))
    assert title.startswith("Generate ×4 · a red circle on the left")
    assert title.endswith("…") and len(title) < len("Generate ×4 · ") + 42
    assert describe_request(api.GenerateRequest(prompt="a cat", output_dir="/o")) == "Generate · a cat"
    assert describe_request(api.ResampleRequest(image="i.png", output_dir="/o", row=1, col=2, count=4)) \
        == "Resample block 1,2 ×4"
    assert describe_request(api.InpaintRequest(image="i.png", output_dir="/o", row=0, col=0)) == "Inpaint block 0,0"
    assert describe_request(api.InpaintRequest(image="i.png", output_dir="/o", mask="m.png")) == "Inpaint mask"
    assert describe_request(api.CompareRequest(image="i.png", output_dir="/o", row=1, col=2)) == "Compare block 1,2"
    assert describe_request(api.ClipRequest(prompt="a red circle moving up", output_dir="/o")) \
        == "Clip · a red circle moving up"
    assert describe_request(api.ClipRequest(prompt="waves", output_dir="/o", mask="m.png")) == "Cinemagraph · waves"
    assert describe_request(api.ContinueRequest(clip="c.mp4", prompt="now up", output_dir="/o")) == "Continue · now up"
    assert describe_request(api.ExportRequest(project="p", output="o.webm", format="webm")) == "Export WEBM"
    assert describe_request(Job("x")) == "Job"


def test_to_qimage_owns_a_copy_of_the_pixels():
    array = np.zeros((4, 5, 3), dtype=np.uint8)
    array[..., 0] = 255
    image = to_qimage(array)
    array[...] = 0  # the image must not be looking at this buffer
    assert image.size() == QSize(5, 4)
    assert image.pixelColor(2, 1).red() == 255 and image.pixelColor(2, 1).green() == 0
    assert to_qimage(None) is None
    assert to_qimage(7) is None  # not an image: ignored, never an error


# --- the model follows the queue -----------------------------------------------------------


def test_rows_appear_on_submit_in_queue_order(qtbot, script, queue, model):
    hold = start_holding(qtbot, queue, model)
    a = queue.submit(Job("a"))
    b = queue.submit(Job("b"))
    front = queue.submit(Job("front"), where="front")
    qtbot.waitUntil(lambda: model.rowCount() == 4 and mirrors_queue(model, queue), timeout=TIMEOUT_MS)
    assert ids(model) == [hold.id, front.id, a.id, b.id]
    assert [status(model, i) for i in ids(model)] == ["running", "pending", "pending", "pending"]
    assert role(model, front.id, JobListModel.QueuePositionRole) == 0
    assert role(model, b.id, JobListModel.QueuePositionRole) == 2
    assert model.data(model.index(1), Qt.DisplayRole) == "Job"

    script.release(hold.request)
    qtbot.waitUntil(lambda: all(status(model, i) == "completed" for i in ids(model)), timeout=TIMEOUT_MS)
    assert mirrors_queue(model, queue)
    assert role(model, b.id, JobListModel.ProgressRole) == 1.0


def test_a_model_built_after_jobs_were_submitted_lists_them(qtbot, script, queue, bridge):
    hold = queue.submit(Job("hold", hold=True))
    waiting = queue.submit(Job("waiting"))
    model = JobListModel(queue, bridge)
    qtbot.waitUntil(lambda: status(model, hold.id) == "running", timeout=TIMEOUT_MS)
    assert ids(model) == [hold.id, waiting.id]
    script.release(hold.request)
    qtbot.waitUntil(lambda: status(model, waiting.id) == "completed", timeout=TIMEOUT_MS)
    assert mirrors_queue(model, queue)


def test_progress_and_preview_update(qtbot, script, queue, model):
    job = queue.submit(Job("render", steps=3, hold=True))
    qtbot.waitUntil(lambda: role(model, job.id, JobListModel.StepsRole) == (3, 3), timeout=TIMEOUT_MS)
    assert role(model, job.id, JobListModel.ProgressRole) == pytest.approx(1.0)
    assert status(model, job.id) == "running"
    preview = role(model, job.id, JobListModel.PreviewRole)
    assert isinstance(preview, QImage) and preview.size() == QSize(8, 6)
    assert preview.pixelColor(0, 0).red() == 30  # the last step's preview

    script.release(job.request)
    qtbot.waitUntil(lambda: status(model, job.id) == "completed", timeout=TIMEOUT_MS)
    assert role(model, job.id, JobListModel.PreviewRole) is not None  # the last preview stays
    assert role(model, job.id, JobListModel.ResultRole) == "render"


def test_progress_rises_step_by_step(qtbot, queue, model):
    job = queue.submit(Job("render", steps=4))
    seen: list[float] = []

    def record(top_left, bottom_right, roles):
        if JobListModel.ProgressRole in roles:
            seen.append(role(model, job.id, JobListModel.ProgressRole))

    model.dataChanged.connect(record)
    qtbot.waitUntil(lambda: status(model, job.id) == "completed", timeout=TIMEOUT_MS)
    assert seen == [0.25, 0.5, 0.75, 1.0]


def test_a_failing_task_shows_failed_with_its_message(qtbot, queue, model, panel):
    bad = queue.submit(Job("bad", fail=True))
    after = queue.submit(Job("after"))
    qtbot.waitUntil(lambda: status(model, after.id) == "completed", timeout=TIMEOUT_MS)  # the queue went on
    assert status(model, bad.id) == "failed"
    assert role(model, bad.id, JobListModel.ErrorRole) == FAIL_MESSAGE
    assert role(model, bad.id, JobListModel.ErrorKindRole) == "bad_input"
    assert role(model, bad.id, Qt.ToolTipRole) == FAIL_MESSAGE
    assert "Completed" in role(model, after.id, Qt.ToolTipRole)
    assert "1 failed" in panel.header.text()
    assert not panel.grab().isNull()  # the delegate draws a failed row without trouble


# --- commands ----------------------------------------------------------------------------


def test_cancel_button_cancels_the_selected_pending_job(qtbot, queue, model, panel):
    hold = start_holding(qtbot, queue, model)
    a = queue.submit(Job("a"))
    b = queue.submit(Job("b"))
    qtbot.waitUntil(lambda: model.pending_ids() == [a.id, b.id], timeout=TIMEOUT_MS)
    assert not panel.cancel_action.isEnabled()  # nothing selected

    assert panel.select_job(a.id)
    assert panel.cancel_action.isEnabled()
    panel.cancel_action.trigger()
    qtbot.waitUntil(lambda: status(model, a.id) == "cancelled", timeout=TIMEOUT_MS)
    assert [h.id for h in queue.pending()] == [b.id]
    assert mirrors_queue(model, queue)
    assert panel.selected_job_id() == a.id  # the selection followed the row
    assert not panel.cancel_action.isEnabled() and panel.retry_action.isEnabled()

    panel.select_job(hold.id)  # a running job: it stops at its next cancel point
    panel.cancel_action.trigger()
    qtbot.waitUntil(lambda: status(model, hold.id) == "cancelled", timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: status(model, b.id) == "completed", timeout=TIMEOUT_MS)


def test_delete_key_cancels_the_selected_job(qtbot, queue, model, panel):
    start_holding(qtbot, queue, model)
    a = queue.submit(Job("a"))
    qtbot.waitUntil(lambda: model.pending_ids() == [a.id], timeout=TIMEOUT_MS)
    panel.select_job(a.id)
    panel.view.setFocus()
    panel.activateWindow()
    qtbot.waitUntil(panel.view.hasFocus, timeout=TIMEOUT_MS)
    qtbot.keyClick(panel.view, Qt.Key_Delete)
    qtbot.waitUntil(lambda: status(model, a.id) == "cancelled", timeout=TIMEOUT_MS)


def test_move_to_front_reorders(qtbot, queue, model, panel):
    start_holding(qtbot, queue, model)
    a, b, c = (queue.submit(Job(name)) for name in "abc")
    qtbot.waitUntil(lambda: model.pending_ids() == [a.id, b.id, c.id], timeout=TIMEOUT_MS)
    panel.select_job(a.id)
    assert not panel.front_action.isEnabled()  # already next
    panel.select_job(c.id)
    assert panel.front_action.isEnabled()
    panel.front_action.trigger()
    qtbot.waitUntil(lambda: model.pending_ids() == [c.id, a.id, b.id], timeout=TIMEOUT_MS)
    assert mirrors_queue(model, queue)
    assert panel.selected_job_id() == c.id
    assert not panel.front_action.isEnabled()


def test_drag_and_drop_reorders_pending_jobs(qtbot, queue, model):
    hold = start_holding(qtbot, queue, model)
    a, b, c = (queue.submit(Job(name)) for name in "abc")
    qtbot.waitUntil(lambda: model.pending_ids() == [a.id, b.id, c.id], timeout=TIMEOUT_MS)

    # only pending rows can be dragged
    assert not model.flags(model.index(model.row_of(hold.id))) & Qt.ItemIsDragEnabled
    assert model.mimeData([model.index(model.row_of(hold.id))]) is None
    assert model.flags(model.index(model.row_of(a.id))) & Qt.ItemIsDragEnabled
    assert model.flags(QModelIndex()) & Qt.ItemIsDropEnabled

    mime = model.mimeData([model.index(model.row_of(a.id))])
    assert mime.hasFormat(JOB_IDS_MIME)
    assert model.dropMimeData(mime, Qt.MoveAction, model.rowCount(), 0, QModelIndex())  # to the end
    qtbot.waitUntil(lambda: model.pending_ids() == [b.id, c.id, a.id], timeout=TIMEOUT_MS)
    assert mirrors_queue(model, queue)

    mime = model.mimeData([model.index(model.row_of(a.id))])
    assert model.dropMimeData(mime, Qt.MoveAction, model.row_of(c.id), 0, QModelIndex())  # before c
    qtbot.waitUntil(lambda: model.pending_ids() == [b.id, a.id, c.id], timeout=TIMEOUT_MS)

    # onto the running job's row: as far forward as a pending job goes
    mime = model.mimeData([model.index(model.row_of(c.id))])
    assert model.dropMimeData(mime, Qt.MoveAction, -1, 0, model.index(model.row_of(hold.id)))
    qtbot.waitUntil(lambda: model.pending_ids() == [c.id, b.id, a.id], timeout=TIMEOUT_MS)

    # QListView's internal move goes through moveRows, which asks the queue the same way
    assert model.moveRow(QModelIndex(), model.row_of(c.id), QModelIndex(), model.rowCount())
    qtbot.waitUntil(lambda: model.pending_ids() == [b.id, a.id, c.id], timeout=TIMEOUT_MS)
    assert mirrors_queue(model, queue)


def test_pause_stops_new_jobs_and_resume_continues(qtbot, script, queue, model, panel):
    hold = start_holding(qtbot, queue, model)
    a = queue.submit(Job("a"))
    qtbot.waitUntil(lambda: model.pending_ids() == [a.id], timeout=TIMEOUT_MS)

    panel.pause_action.trigger()
    qtbot.waitUntil(lambda: model.paused, timeout=TIMEOUT_MS)
    assert queue.paused and panel.pause_action.isChecked()
    assert panel.pause_action.text() == "Resume queue"
    assert "paused" in panel.header.text()

    script.release(hold.request)  # the running job finishes; paused, the worker takes nothing new
    qtbot.waitUntil(lambda: status(model, hold.id) == "completed", timeout=TIMEOUT_MS)
    assert queue.flush(5) and status(model, a.id) == "pending" and queue.get(a.id).status is JobStatus.PENDING
    assert "paused" in role(model, a.id, Qt.ToolTipRole)

    panel.pause_action.trigger()
    qtbot.waitUntil(lambda: status(model, a.id) == "completed", timeout=TIMEOUT_MS)
    assert not model.paused and not panel.pause_action.isChecked()
    assert panel.pause_action.text() == "Pause queue"
    assert "paused" not in panel.header.text()


def test_pausing_elsewhere_shows_in_the_panel(qtbot, queue, model, panel):
    queue.pause()  # e.g. the main window's Queue menu
    qtbot.waitUntil(lambda: panel.pause_action.isChecked(), timeout=TIMEOUT_MS)
    queue.resume()
    qtbot.waitUntil(lambda: not panel.pause_action.isChecked(), timeout=TIMEOUT_MS)
    assert not queue.paused  # showing the state did not toggle the queue back


def test_retry_creates_a_new_job_for_a_failed_one(qtbot, queue, model, panel):
    bad = queue.submit(Job("bad", fail=True))
    qtbot.waitUntil(lambda: status(model, bad.id) == "failed", timeout=TIMEOUT_MS)
    panel.select_job(bad.id)
    assert panel.retry_action.isEnabled() and not panel.cancel_action.isEnabled()
    panel.retry_action.trigger()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=TIMEOUT_MS)
    retry_id = model.job_id_at(1)
    assert retry_id != bad.id
    assert role(model, retry_id, JobListModel.RetryOfRole) == bad.id
    assert queue.get(retry_id).request == bad.request
    assert panel.selected_job_id() == retry_id  # the new job is selected as it arrives
    qtbot.waitUntil(lambda: status(model, retry_id) == "failed", timeout=TIMEOUT_MS)  # same script, same end
    assert status(model, bad.id) == "failed"


def test_clear_empties_pending(qtbot, queue, model, panel):
    hold = start_holding(qtbot, queue, model)
    waiting = [queue.submit(Job(name)) for name in "abc"]
    qtbot.waitUntil(lambda: len(model.pending_ids()) == 3, timeout=TIMEOUT_MS)
    assert panel.clear_action.isEnabled()
    panel.clear_action.trigger()
    qtbot.waitUntil(lambda: not model.pending_ids(), timeout=TIMEOUT_MS)
    assert queue.pending() == []
    assert [status(model, h.id) for h in waiting] == ["cancelled"] * 3
    assert status(model, hold.id) == "running"
    assert mirrors_queue(model, queue)
    assert not panel.clear_action.isEnabled()


def test_elapsed_grows_for_a_running_job_and_stops_when_it_ends(qtbot, script, queue, model):
    hold = start_holding(qtbot, queue, model)
    first = role(model, hold.id, JobListModel.ElapsedRole)
    row = model.row_of(hold.id)
    # the once-a-second clock: dataChanged for the running row, ElapsedRole only, no reset
    with qtbot.waitSignal(model.dataChanged, timeout=3000,
                          check_params_cb=lambda tl, br, roles: list(roles) == [JobListModel.ElapsedRole]) as blocker:
        pass
    assert blocker.args[0].row() == row
    assert role(model, hold.id, JobListModel.ElapsedRole) > first

    script.release(hold.request)
    qtbot.waitUntil(lambda: status(model, hold.id) == "completed", timeout=TIMEOUT_MS)
    done = role(model, hold.id, JobListModel.ElapsedRole)
    assert done > 0.0
    qtbot.waitUntil(lambda: not model._ticker.isActive(), timeout=3000)  # no running job: the clock stops
    assert role(model, hold.id, JobListModel.ElapsedRole) == done


def test_buttons_follow_the_selected_jobs_status(qtbot, script, queue, model, panel):
    hold = start_holding(qtbot, queue, model)
    a = queue.submit(Job("a"))
    qtbot.waitUntil(lambda: model.pending_ids() == [a.id], timeout=TIMEOUT_MS)
    panel.select_job(hold.id)
    assert panel.cancel_action.isEnabled()
    assert not panel.front_action.isEnabled() and not panel.retry_action.isEnabled()
    assert panel.clear_action.isEnabled() and panel.pause_action.isEnabled()
    assert "running/pending" in panel.header.text() and "2" in panel.header.text()
    # the enabled state changes with the job, not only with the selection
    script.release(hold.request)
    qtbot.waitUntil(lambda: status(model, hold.id) == "completed", timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not panel.cancel_action.isEnabled(), timeout=TIMEOUT_MS)
    assert not panel.retry_action.isEnabled()


# --- how it looks ----------------------------------------------------------------------------


def test_screenshot_of_a_mixed_queue(qtbot, script, queue, model, panel):
    """Not an assertion of looks: it leaves /tmp/queue_panel.png for a person to judge."""
    from studio.theme import dark_palette

    panel.setPalette(dark_palette())
    qss = Path(__file__).resolve().parents[2] / "resources" / "styles" / "dark.qss"
    if qss.is_file():
        panel.setStyleSheet(qss.read_text(encoding="utf-8"))

    out = "/tmp/latent-studio-test"
    finished = queue.submit(script.plan(
        api.GenerateRequest(prompt="a red circle on the left of a blue square at dusk, film grain",
                            output_dir=out, count=4), steps=4))
    failed = queue.submit(script.plan(
        api.ResampleRequest(image="scene.png", output_dir=out, row=1, col=2), steps=2,
        error=BadInput("The image has no latent grid recorded; choose a grid size in the prompt panel, then retry.")))
    running = queue.submit(script.plan(
        api.InpaintRequest(image="scene.png", output_dir=out, row=0, col=0, count=2), steps=3, hold=True))
    waiting = [
        queue.submit(api.CompareRequest(image="scene.png", output_dir=out, row=1, col=2)),
        queue.submit(api.InpaintRequest(image="scene.png", output_dir=out, mask="mask.png")),
        queue.submit(api.GenerateRequest(prompt="a lighthouse on a cliff", output_dir=out, seed=7)),
        queue.submit(api.ResampleRequest(image="scene.png", output_dir=out, row=3, col=0, count=4)),
    ]
    qtbot.waitUntil(lambda: role(model, running.id, JobListModel.StepsRole) == (2, 3) or
                    role(model, running.id, JobListModel.StepsRole) == (3, 3), timeout=TIMEOUT_MS)
    queue.cancel(waiting[1])
    queue.pause()
    qtbot.waitUntil(lambda: model.paused and status(model, waiting[1].id) == "cancelled", timeout=TIMEOUT_MS)
    assert [status(model, h.id) for h in (finished, failed, running)] == ["completed", "failed", "running"]
    panel.select_job(waiting[0].id)
    image = panel.grab()
    assert not image.isNull()
    image.save("/tmp/queue_panel.png")
