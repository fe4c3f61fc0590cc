"""Turns the window's intentions into engine requests, and finished jobs into window updates.

It knows which job was submitted for what (candidates of a generation, candidates of a block
resample, a comparison), so results land in the right place; a retry of one of its jobs (the
queue panel calls `JobQueue.retry`) serves the same purpose. It holds no widgets: the window
connects its widgets to these slots and signals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from engine.api import CompareRequest, EditSettings, GenerateRequest, InpaintRequest, ResampleRequest
from engine.grid import random_seed
from engine.jobs import JobQueue
from studio.background import BackgroundCalls
from studio.bridge import EngineBridge
from studio.document import ImageDocument, write_mask
from studio.history import HistoryModel, SessionFolders
from studio.images import to_qimage
from studio.viewmodels.candidates import CandidatesModel


CANDIDATE_KINDS = ("generate", "resample", "inpaint")


@dataclass(frozen=True)
class _Purpose:
    kind: str  # one of CANDIDATE_KINDS, or "compare"
    count: int = 0  # candidates the job makes


class StudioController(QObject):
    comparison_ready = Signal(object, object)  # CompareResult, CompareRequest
    message = Signal(str)  # a sentence for the status bar
    job_failed = Signal(str)
    model_in_use = Signal(str)  # the model of the latest generation, for the status bar
    generation_finished = Signal(str)  # the best image of a finished generation (first when unscored)

    def __init__(self, queue: JobQueue, bridge: EngineBridge, document: ImageDocument,
                 candidates: CandidatesModel, history: HistoryModel, folders: SessionFolders, parent=None):
        super().__init__(parent)
        self.queue = queue
        self.bridge = bridge  # the timeline side follows its own jobs (exports, clips) through it
        self.document = document
        self.candidates = candidates
        self.history = history
        self.folders = folders
        self.resample_count = 4
        # every inpaint asked for is queued, so no mask write supersedes another
        self._mask_writer = BackgroundCalls(latest_only=False, parent=self)
        # Jobs that end failed or cancelled stay here: a retry is recognised by its retry_of.
        self._purposes: dict[int, _Purpose] = {}
        bridge.queued.connect(self._on_queued)
        bridge.progress.connect(self._on_progress)
        bridge.candidate_ready.connect(self._on_candidate_ready)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)
        bridge.cancelled.connect(self._on_cancelled)

    # --- submitting --------------------------------------------------------------------

    def _submit(self, request, kind: str, count: int = 0) -> int:
        handle = self.queue.submit(request)
        self._track(handle.id, _Purpose(kind, count))
        return handle.id

    def _track(self, job_id: int, purpose: _Purpose) -> None:
        self._purposes[job_id] = purpose
        if purpose.kind in CANDIDATE_KINDS:
            self.candidates.add_pending(job_id, purpose.count, purpose.kind)

    @Slot(object)
    def generate(self, request: GenerateRequest) -> int:
        """Queue `request` (as the prompt panel made it), its results going to this session's folder."""
        request = replace(request, output_dir=str(self.folders.results_dir()))
        self.model_in_use.emit(Path(request.model).name)
        return self._submit(request, "generate", request.count)

    def _grid(self) -> dict:
        doc = self.document
        return {} if doc.has_seeds else {"grid_rows": doc.grid_rows, "grid_cols": doc.grid_cols}

    @Slot(int, int)
    def resample(self, row: int, col: int) -> int | None:
        if not self._has_image():
            return None
        request = ResampleRequest(image=self.document.path, output_dir=str(self.folders.results_dir()), row=row,
                                  col=col, seed=random_seed(), count=self.resample_count, **self._grid())
        return self._submit(request, "resample", request.count)

    @Slot(int, int)
    def compare(self, row: int, col: int) -> int | None:
        if not self._has_image():
            return None
        request = CompareRequest(image=self.document.path, output_dir=str(self.folders.results_dir()), row=row,
                                 col=col, seed=random_seed(), **self._grid())
        return self._submit(request, "compare")

    def inpaint_mask(self, settings: EditSettings = EditSettings()) -> None:
        """Inpaint the painted mask; `settings` (the prompt box's prompt) win over the image's recorded ones."""
        if not self._has_image():
            return
        if self.document.mask_is_empty():
            self.message.emit("Paint a mask first (B for the brush), then inpaint it.")
            return
        # The request is fixed now, as the user sees it, all but the mask file's name: the mask PNG is
        # encoded off the GUI thread from a copy (the user may paint on meanwhile) under a free name,
        # and the job is queued once it is on disk.
        count = self.resample_count
        request = partial(InpaintRequest, image=self.document.path, output_dir=str(self.folders.results_dir()),
                          seed=random_seed(), count=count, settings=settings, **self._grid())
        self._mask_writer.call(partial(write_mask, self.document.mask.copy(), self.folders.imports_dir() / "mask.png"),
                               lambda written: self._submit(request(mask=str(written)), "inpaint", count),
                               self.message.emit)

    def _has_image(self) -> bool:
        if not self.document.path:
            self.message.emit("Open or generate an image first.")
            return False
        return True

    # --- results ------------------------------------------------------------------------

    @Slot(int, object)
    def _on_queued(self, job_id: int, request) -> None:
        # Our own submissions are tracked already; Queued arrives before any event of the job.
        if job_id not in self._purposes:
            original = self._purposes.get(self.queue.get(job_id).retry_of)
            if original is not None:
                self._track(job_id, original)

    @Slot(int, int, int, object)
    def _on_progress(self, job_id: int, step: int, total: int, preview) -> None:
        if preview is not None and job_id in self._purposes:
            self.candidates.set_preview(job_id, to_qimage(preview))

    @Slot(int, int, str, object)
    def _on_candidate_ready(self, job_id: int, index: int, path: str, seed) -> None:
        if job_id in self._purposes:
            self.candidates.set_candidate(job_id, index, path, seed)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result) -> None:
        purpose = self._purposes.pop(job_id, None)
        if purpose is None:
            return
        if purpose.kind == "compare":
            self.history.add([result.resample_path, result.inpaint_path])
            self.comparison_ready.emit(result, self.queue.get(job_id).request)
            return
        items = [(image.path, image.seed, image.score) for image in result.images]
        self.candidates.set_results(job_id, items)
        self.history.add([path for path, _, _ in items])
        self.message.emit(f"{len(items)} result{'s' if len(items) != 1 else ''} in {result.seconds:.1f} s "
                          f"— saved to {Path(items[0][0]).parent}")
        if purpose.kind == "generate" and items:
            self.generation_finished.emit(items[0][0])

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, kind: str) -> None:
        self._keep_saved(job_id)
        self.job_failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        kept = self._keep_saved(job_id)
        if kept:
            self.message.emit(f"Cancelled — kept the {len(kept)} result{'s' if len(kept) != 1 else ''} "
                              f"already saved to {Path(kept[0]).parent}")

    def _keep_saved(self, job_id: int) -> list[str]:
        """Candidates a stopped job already saved stay in the strip and join the history."""
        kept = self.candidates.end_early(job_id)
        if kept:
            self.history.add(kept)
        return kept
