"""StudioController over a real JobQueue, EngineBridge and queue panel, with a scripted engine.

Tasks are plain functions of (request, context), so `FakeEngine` stands in for the diffusers
tasks and keeps their contract: a preview per step, each candidate saved as a PNG and announced
the moment it is on disk, then the engine's own result type.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF

from engine.api import CompareRequest, CompareResult, GenerateRequest, GenerateResult, ImageResult
from engine.errors import OutOfMemory
from engine.jobs import JobQueue
from studio import controller as controller_module
from studio.bridge import EngineBridge
from studio.controller import StudioController
from studio.document import ImageDocument, write_mask
from studio.history import HistoryModel, SessionFolders
from studio.viewmodels.candidates import CandidatesModel
from studio.viewmodels.job_list import JobListModel
from studio.widgets.queue_panel import QueuePanel

TIMEOUT_MS = 10_000
OOM = "Ran out of memory; try fewer candidates, then retry."


def _png(path: Path, value: int) -> str:
    Image.fromarray(np.full((16, 16, 3), value, dtype=np.uint8)).save(path)
    return str(path)


class FakeEngine:
    """Generations and comparisons as the engine makes them. Scores rise with the index, so the
    finished order (best first) is the reverse of the order the candidates were made in.

    `flaky`: every request fails its first run, out of memory, and succeeds when retried.
    `hold_after`: a generation waits after saving that many candidates until `release` is set.
    """

    def __init__(self) -> None:
        self.flaky = False
        self.hold_after: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self._ran: set = set()

    def __call__(self, request, ctx):
        first_run = request not in self._ran
        self._ran.add(request)
        if self.flaky and first_run:
            raise OutOfMemory(OOM)
        out = Path(request.output_dir)
        if isinstance(request, CompareRequest):
            resampled, inpainted = _png(out / "resampled.png", 10), _png(out / "inpainted.png", 20)
            return CompareResult(resampled, inpainted, {}, {}, side_by_side="", heatmaps=(), report="")
        images = []
        for index in range(request.count):
            ctx.report(index + 1, request.count, preview=np.full((8, 8, 3), 100 + index, dtype=np.uint8))
            seed = request.seed + index
            path = _png(out / f"candidate-{seed}.png", 40 * index)
            ctx.candidate_ready(index, path, seed)
            images.append(ImageResult(path, seed, grid=None, score=float(index)))
            if index + 1 == self.hold_after:
                self.holding.set()
                while not self.release.wait(0.01):
                    ctx.check_cancelled()
        return GenerateResult(model="fake", images=tuple(reversed(images)), seconds=0.01)


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.engine = FakeEngine()
        self.queue = JobQueue(runner=self.engine)
        self.bridge = EngineBridge(self.queue)
        self.candidates = CandidatesModel(async_thumbnails=False)
        self.history = HistoryModel(SessionFolders(tmp_path / "data"))
        self.document = ImageDocument()
        self.controller = StudioController(self.queue, self.bridge, self.document, self.candidates, self.history,
                                           SessionFolders(tmp_path / "data"))
        self.panel = QueuePanel(JobListModel(self.queue, self.bridge), self.queue)

    def generate(self, count: int = 2) -> int:
        return self.controller.generate(GenerateRequest(prompt="a red circle", output_dir="", model="fake", seed=5,
                                                        count=count))

    def retry_in_panel(self, qtbot, job_id: int) -> None:
        qtbot.waitUntil(lambda: self.panel.select_job(job_id) and self.panel.retry_action.isEnabled(),
                        timeout=TIMEOUT_MS)
        self.panel.retry_action.trigger()

    def paths(self) -> list:
        return [item.path for item in self.candidates.candidates()]

    def close(self) -> None:
        self.engine.release.set()
        self.bridge.close()
        self.queue.shutdown()


@pytest.fixture
def rig(qtbot, tmp_path):
    rig = Rig(tmp_path)
    qtbot.addWidget(rig.panel)
    yield rig
    rig.close()


def test_a_failed_generation_retried_from_the_queue_panel_lands_in_the_strip_and_history(qtbot, rig):
    rig.engine.flaky = True
    failures = []
    rig.controller.job_failed.connect(failures.append)
    job = rig.generate(count=2)
    qtbot.waitUntil(lambda: failures == [OOM], timeout=TIMEOUT_MS)
    assert rig.candidates.rowCount() == 0  # the failed job's placeholders are gone

    rig.retry_in_panel(qtbot, job)
    qtbot.waitUntil(lambda: len(rig.paths()) == 2 and None not in rig.paths(), timeout=TIMEOUT_MS)
    retried = rig.candidates.candidate(0).job_id
    assert retried != job and rig.queue.get(retried).retry_of == job
    assert [Path(p).name for p in rig.paths()] == ["candidate-6.png", "candidate-5.png"]  # best first
    qtbot.waitUntil(lambda: rig.history.rowCount() == 2, timeout=TIMEOUT_MS)
    assert {rig.history.path_at(r) for r in range(2)} == set(rig.paths())


def test_a_failed_comparison_retried_opens_the_comparison(qtbot, rig, tmp_path):
    rig.document.open_image(_png(tmp_path / "source.png", 90))
    rig.engine.flaky = True
    job = rig.controller.compare(1, 1)
    qtbot.waitUntil(lambda: rig.panel.select_job(job) and rig.panel.retry_action.isEnabled(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(rig.controller.comparison_ready, timeout=TIMEOUT_MS) as ready:
        rig.retry_in_panel(qtbot, job)
    result, request = ready.args
    assert Path(result.resample_path).name == "resampled.png" and request == rig.queue.get(job).request


def test_each_candidate_shows_as_it_is_saved_and_previews_go_to_the_one_being_drawn(qtbot, rig):
    rig.engine.hold_after = 1
    job = rig.generate(count=3)
    qtbot.waitUntil(lambda: rig.engine.holding.is_set() and rig.paths()[0] is not None, timeout=TIMEOUT_MS)
    first = rig.candidates.candidate(0)
    assert (Path(first.path).name, first.seed, first.thumbnail is not None) == ("candidate-5.png", 5, True)
    assert rig.paths()[1:] == [None, None]  # the job is still running

    rig.engine.release.set()
    qtbot.waitUntil(lambda: rig.queue.get(job).done and None not in rig.paths(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: rig.paths()[0].endswith("candidate-7.png"), timeout=TIMEOUT_MS)
    assert [Path(p).name for p in rig.paths()] == ["candidate-7.png", "candidate-6.png", "candidate-5.png"]
    # each candidate kept the preview drawn while it was made, not the first slot's
    previews = {Path(item.path).name: item.preview for item in rig.candidates.candidates()}
    assert previews["candidate-6.png"].pixelColor(0, 0).red() == 101


def _paint_a_dot(document: ImageDocument) -> None:
    document.begin_stroke(erase=False, radius=2)
    document.stroke_to(QPointF(10, 10))
    document.end_stroke()


def test_inpaint_writes_the_mask_off_the_gui_thread_then_queues_the_job(qtbot, rig, tmp_path, monkeypatch):
    written_on = []

    def recording(mask, path):
        written_on.append(threading.current_thread())
        return write_mask(mask, path)

    monkeypatch.setattr(controller_module, "write_mask", recording)
    rig.document.open_image(_png(tmp_path / "source.png", 90))
    _paint_a_dot(rig.document)
    rig.controller.inpaint_mask()
    assert rig.queue.jobs() == []  # queued only once its mask is on disk
    qtbot.waitUntil(lambda: len(rig.queue.jobs()) == 1, timeout=TIMEOUT_MS)
    assert written_on and threading.main_thread() not in written_on
    request = rig.queue.jobs()[0].request
    mask = np.asarray(Image.open(request.mask))
    assert mask[10, 10] == 255 and mask[0, 0] == 0
    qtbot.waitUntil(lambda: len(rig.paths()) == request.count and None not in rig.paths(), timeout=TIMEOUT_MS)


def test_a_mask_that_cannot_be_written_is_reported_and_queues_nothing(qtbot, rig, tmp_path, monkeypatch):
    def disk_full(mask, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(controller_module, "write_mask", disk_full)
    rig.document.open_image(_png(tmp_path / "source.png", 90))
    _paint_a_dot(rig.document)
    with qtbot.waitSignal(rig.controller.message, timeout=TIMEOUT_MS) as blocker:
        rig.controller.inpaint_mask()
    assert "No space left" in blocker.args[0]
    assert rig.queue.jobs() == [] and rig.candidates.rowCount() == 0


def test_a_cancelled_job_keeps_the_candidates_it_already_saved(qtbot, rig):
    rig.engine.hold_after = 2
    messages = []
    rig.controller.message.connect(messages.append)
    job = rig.generate(count=4)
    qtbot.waitUntil(lambda: rig.engine.holding.is_set() and rig.paths()[1] is not None, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(rig.bridge.cancelled, timeout=TIMEOUT_MS):
        rig.queue.cancel(job)
    # the two saved candidates stay (on disk and in the strip); the two placeholders go
    assert [Path(p).name for p in rig.paths()] == ["candidate-5.png", "candidate-6.png"]
    assert all(Path(p).is_file() for p in rig.paths()) and not rig.candidates.has_pending()
    qtbot.waitUntil(lambda: rig.history.rowCount() == 2, timeout=TIMEOUT_MS)
    assert {rig.history.path_at(r) for r in range(2)} == set(rig.paths())
    assert messages and messages[-1].startswith("Cancelled — kept the 2 results")
