"""Clips made from the window: "Make clip" (the prompt, or the canvas image), "Cinemagraph" (the canvas
image moving only inside its mask) and "Continue" (the selected clip carried on) — each a job on the
queue's GPU worker whose finished clip lands on the timeline right after the clip that was selected.

The requests are the engine's (ClipRequest, ContinueRequest); a finished clip's preview file is
placed through the ProjectSession like any dropped file, so it is one undo step. Both requests carry
the clip bar's identity references (studio.widgets.identity_slot), the images the shot keeps to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject

from engine.api import TASKS, ClipRequest
from engine.grid import random_seed
from engine.timeline.model import Clip
from studio.background import BackgroundCalls
from studio.document import write_mask


@dataclass(frozen=True)
class _Landing:
    """Where a finished clip goes: right after `after` (the clip selected when it was asked for),
    found again when it lands, since the timeline may have been edited meanwhile; appended to
    V1 when nothing was selected or that clip is gone."""

    track: int | None
    after: Clip | None

    def frame(self, timeline) -> int | None:
        if self.after is None or self.track is None or self.track >= len(timeline.tracks):
            return None
        items = timeline.tracks[self.track]
        ends = [(start + item.duration, item) for start, item in zip(items.starts(), items.items)]
        exact = [end for end, item in ends if item == self.after]
        if exact:
            return exact[0]
        # trimmed or split since: after the last piece of the same media
        same = [end for end, item in ends if isinstance(item, Clip) and item.media == self.after.media]
        return same[-1] if same else None


class ClipJobs(QObject):
    def __init__(self, session, state, controller, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.state, self.controller = session, state, controller
        self.model: str | None = None  # None: the bundled motion model
        self.frames: int | None = None  # None: the model's own length
        self.steps: int | None = None
        self.identity_references: tuple[str, ...] = ()  # the clip bar's Identity slot: new clips keep to their look
        self._landings: dict[int, _Landing] = {}
        self._placing: set[int] = set()  # finished jobs whose clip is being copied into the project
        self._mask_writer = BackgroundCalls(latest_only=False, parent=self)
        controller.bridge.finished.connect(self._on_finished)
        # a failed or cancelled clip lands nowhere (the queue panel and status bar say why)
        controller.bridge.failed.connect(lambda job_id, _message, _kind: self._landings.pop(job_id, None))
        controller.bridge.cancelled.connect(lambda job_id: self._landings.pop(job_id, None))

    @staticmethod
    def can_continue() -> bool:
        return "continue" in TASKS

    def _landing(self) -> _Landing:
        """Right after the selected clip (the clips after it move along), else at the end of V1."""
        if self.state.selected is None:
            return _Landing(None, None)
        return _Landing(self.state.selected[0], self.state.selected_clip())

    def _submit(self, request) -> int:
        job = self.controller.queue.submit(request)
        self._landings[job.id] = self._landing()
        return job.id

    def _output_dir(self) -> str:
        return str(self.controller.folders.results_dir())

    def make_clip(self, prompt: str, from_canvas: bool = False, mask: str | None = None) -> int | None:
        if self.session.project is None:
            self.session.message.emit("Make or open a project first: a clip lands on its timeline.")
            return None
        image = self.controller.document.path if (from_canvas or mask) else None
        if (from_canvas or mask) and not image:
            self.session.message.emit("Open or generate an image on the canvas first.")
            return None
        return self._submit(ClipRequest(prompt=prompt, output_dir=self._output_dir(), model=self.model,
                                        frames=self.frames, steps=self.steps, seed=random_seed(),
                                        init_image=image, mask=mask, identity_references=self.identity_references))

    def cinemagraph(self, prompt: str) -> None:
        """The canvas image moving only inside its painted mask (the mask PNG is written on a worker)."""
        document = self.controller.document
        if not document.path or document.mask_is_empty():
            self.session.message.emit("Open an image and paint the part that should move (B), then Cinemagraph.")
            return
        target = self.controller.folders.imports_dir() / "mask.png"
        self._mask_writer.call(partial(write_mask, document.mask.copy(), target),
                               lambda written: self.make_clip(prompt, mask=str(written)), self.session.message.emit)

    def continue_selected(self, prompt: str) -> int | None:
        """Carry the selected clip on from its last frame (ContinueRequest, the continue task)."""
        from engine.api import ContinueRequest

        clip = self.state.selected_clip()
        ref = self.state.timeline.media_by_id().get(clip.media) if clip else None
        if ref is None or ref.kind != "video":
            self.session.message.emit("Select a clip on the timeline to continue it.")
            return None
        # the project's copy: its master, tail latents and sidecar came into media/ with it (engine.clips.files.copy_clip)
        return self._submit(ContinueRequest(clip=ref.path, prompt=prompt, output_dir=self._output_dir(),
                                            frames=self.frames, steps=self.steps, seed=random_seed(),
                                            identity_references=self.identity_references))

    def pending(self) -> bool:
        """A clip is asked for, generating, or finished and still being placed."""
        return bool(self._landings) or bool(self._placing)

    def _on_finished(self, job_id: int, result) -> None:
        landing = self._landings.pop(job_id, None)
        if landing is None:
            return
        path = result.clip.path
        self._placing.add(job_id)

        def placed(_ref) -> None:
            self._placing.discard(job_id)
            self.session.message.emit(f"{Path(path).name} is on the timeline.")

        self.session.add_media(path, landing.track, landing.frame, on_added=placed,
                               on_failed=lambda: self._placing.discard(job_id))
