"""The open project of the window: New / Open / Save / Save As, autosave, and timeline edits as undo steps.

Timeline edits are engine commands (engine.timeline.commands) applied to the project's engine
History; each one is also pushed on the canvas's QUndoStack as a `TimelineStep`, so Ctrl+Z and
Ctrl+Shift+Z walk one history of everything the user did, images and timeline interleaved. The
QUndoStack only orders the steps: undo and redo themselves are the engine History's, which puts
back exactly the timeline value that was there.

Every file operation (creating, opening, saving, autosaving, probing and copying media) runs on
a BackgroundCalls worker; the GUI thread only swaps the finished result in.
"""

from __future__ import annotations

import dataclasses
import shutil
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.errors import BadInput
from engine.project import AUTOSAVE_FILE, PROJECT_FILE, Project, ProjectError
from engine.timeline import commands as c
from engine.timeline.history import History
from engine.timeline.model import Clip, Rate, Timeline

AUTOSAVE_MS = 30_000  # unsaved work is at most this old after a crash
STILL_SECONDS = 5  # a still dropped on the timeline lasts this long, as in Kdenlive and Shotcut


class TimelineStep(QUndoCommand):
    """One timeline edit on the window's undo stack; the engine History does the actual undo/redo."""

    def __init__(self, session: "ProjectSession", project: Project, command: c.Command):
        super().__init__(f"Timeline: {command.describe()}")
        self._session, self._project, self._command = session, project, command
        self._applied_once = False

    def redo(self) -> None:
        if not self._applied_once:
            self._project.history.apply(self._command)  # checked before the push, so it applies
            self._applied_once = True
        else:
            self._project.history.redo()
        self._session.timeline_changed_by_edit(self._project)

    def undo(self) -> None:
        self._project.history.undo()
        self._session.timeline_changed_by_edit(self._project)


def rebased_media(timeline: Timeline, old: Path, new: Path) -> Timeline:
    """The timeline with media inside folder `old` pointing into folder `new` (for Save As)."""
    media = []
    for ref in timeline.media:
        path = Path(ref.path) if ref.path else None
        if path is not None and path.is_relative_to(old):
            ref = dataclasses.replace(ref, path=str(new / path.relative_to(old)))
        media.append(ref)
    return dataclasses.replace(timeline, media=tuple(media), name=new.name)


def copy_project(project: Project, target: Path) -> Project:
    """Save As: the project's folder copied to `target` with the current (unsaved) timeline, saved there.
    The original folder is left exactly as it was on disk."""
    target = Path(target).resolve()
    if (target / PROJECT_FILE).exists():
        raise ProjectError(f"{target} already holds a project; choose an empty folder.")
    if target.is_relative_to(project.folder):
        raise ProjectError(f"{target} is inside the project itself; choose a folder outside it.")
    shutil.copytree(project.folder, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(AUTOSAVE_FILE))
    copied = Project.open(target)
    copied.history = History(rebased_media(project.timeline, project.folder, target))
    copied.save()
    return copied


def placement(timeline: Timeline, ref, track: int | None, frame: int | None) -> c.Command:
    """Add `ref` to the media table (unless it is there) and put a clip of all of it on `track` at
    `frame` (appended when None), making V1/A1 when the timeline has no track of that kind yet."""
    kind = "audio" if ref.kind == "audio" else "video"
    steps: list[c.Command] = []
    if ref.id not in timeline.media_by_id():
        steps.append(c.AddMedia(ref))
    if track is None or not 0 <= track < len(timeline.tracks) or timeline.tracks[track].kind != kind:
        track = next((i for i, t in enumerate(timeline.tracks) if t.kind == kind), None)
        if track is None:
            steps.append(c.AddTrack(kind))
            track = len(timeline.tracks)
    duration = round(STILL_SECONDS * timeline.rate.fps) if ref.kind == "image" else ref.length_at(timeline.rate)
    if not duration:
        raise BadInput(f"{Path(ref.path).name} has no frames to place on the timeline.")
    clip = Clip(ref.id, 0, duration, name=Path(ref.path).stem)
    steps.append(c.Append(track, clip) if frame is None else c.Insert(track, frame, clip))
    return c.Batch(tuple(steps), name=f"add {Path(ref.path).name}")


class ProjectSession(QObject):
    """The window's project (None until one is made or opened) and its edits."""

    project_changed = Signal()  # another project (or none) is open
    timeline_changed = Signal(object)  # the current Timeline
    dirty_changed = Signal(bool)
    message = Signal(str)  # a sentence for the status bar
    failed = Signal(str, str)  # title, sentence: a message box

    def __init__(self, undo_stack: QUndoStack, calls, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = undo_stack
        self._calls = calls  # a BackgroundCalls(latest_only=False): every file operation counts
        self.project: Project | None = None
        self._saved: Timeline | None = None  # the timeline as it is on disk
        self._autosaved: Timeline | None = None
        self._dirty = False
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # --- state ---------------------------------------------------------------------------

    @property
    def timeline(self) -> Timeline | None:
        return self.project.timeline if self.project else None

    @property
    def name(self) -> str:
        return self.project.folder.name if self.project else ""

    def is_dirty(self) -> bool:
        return self._dirty

    def busy(self) -> bool:
        return self._calls.pending()

    def _set_dirty(self) -> None:
        dirty = self.project is not None and self.project.timeline is not self._saved
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def timeline_changed_by_edit(self, project: Project) -> None:
        if project is self.project:
            self._set_dirty()
            self.timeline_changed.emit(project.timeline)

    def _adopt(self, project: Project, note: str) -> None:
        """Make `project` the open one. The undo stack is cleared: its timeline steps belong to the old project."""
        self.undo_stack.clear()
        self.project = project
        self._saved = None if project.recovered else project.timeline
        self._autosaved = project.timeline if project.recovered else None
        self._dirty = not self._dirty  # force the signal below
        self._set_dirty()
        self.project_changed.emit()
        self.timeline_changed.emit(project.timeline)
        problems = f" ({len(project.problems)} problems: {project.problems[0]})" if project.problems else ""
        self.message.emit(note + problems)

    # --- files (all on the worker) -------------------------------------------------------

    def new_project(self, folder: str, rate: Rate = Rate(24), width: int = 1280, height: int = 720) -> None:
        self._calls.call(partial(Project.create, folder, rate, width, height),
                         lambda project: self._adopt(project, f"New project {project.folder.name}."),
                         lambda text: self.failed.emit("Cannot create the project", text))

    def open_project(self, folder: str) -> None:
        def opened(project: Project) -> None:
            note = (f"Opened {project.folder.name} as autosaved: the last session ended without saving it. "
                    "Save to keep it." if project.recovered else f"Opened {project.folder.name}.")
            self._adopt(project, note)

        self._calls.call(partial(Project.open, folder), opened,
                         lambda text: self.failed.emit("Cannot open the project", text))

    def save(self, on_saved=None) -> None:
        project = self.project
        if project is None:
            return
        snapshot = project.timeline

        def saved(_) -> None:
            if project is self.project:
                self._saved = snapshot
                self._set_dirty()
                self.message.emit(f"Saved {project.folder.name}.")
            if on_saved:
                on_saved()

        self._calls.call(project.save, saved, lambda text: self.failed.emit("Cannot save the project", text))

    def save_as(self, folder: str) -> None:
        if self.project is None:
            return
        self._calls.call(partial(copy_project, self.project, Path(folder)),
                         lambda project: self._adopt(project, f"Saved as {project.folder.name}."),
                         lambda text: self.failed.emit("Cannot save the project there", text))

    def autosave(self) -> None:
        """Write autosave.json when the timeline changed since the last save or autosave."""
        project = self.project
        if project is None or not self._dirty or project.timeline is self._autosaved:
            return
        snapshot = project.timeline

        def done(_) -> None:
            self._autosaved = snapshot

        self._calls.call(project.autosave, done, lambda text: self.message.emit(f"Autosave failed: {text}"))

    def write_for_export(self, then) -> None:
        """Make what is on disk the current timeline (an export reads the project from disk), then `then()`."""
        project = self.project
        if project is None or not self._dirty:
            then()
            return
        snapshot = project.timeline

        def written(_) -> None:
            self._autosaved = snapshot
            then()

        self._calls.call(project.autosave, written, lambda text: self.failed.emit("Cannot export", text))

    # --- edits ---------------------------------------------------------------------------

    def apply(self, command: c.Command) -> bool:
        """Apply an engine edit as one undo step; a refused edit changes nothing and says why."""
        if self.project is None:
            self.message.emit("Make or open a project first (File > New project).")
            return False
        try:
            command.apply(self.project.timeline)  # refused edits never reach the undo stack
        except BadInput as exc:
            self.message.emit(f"Cannot {command.describe()}: {exc}")
            return False
        self.undo_stack.push(TimelineStep(self, self.project, command))
        return True

    def import_media(self, path: str) -> None:
        """List `path` in the project's media (copied into media/ on the worker) without placing it."""
        project = self.project
        if project is None:
            self.message.emit("Make or open a project first (File > New project).")
            return
        self._calls.call(partial(project.add_media, path),
                         lambda ref: project is self.project and self.apply(c.AddMedia(ref)),
                         lambda text: self.message.emit(f"Cannot import {Path(path).name}: {text}"))

    def add_media(self, path: str, track: int | None = None, frame=None, on_added=None, on_failed=None) -> None:
        """Place the media file at `path` (probed, and copied into media/, on the worker); then
        `on_added(ref)`, or `on_failed()` once it is known that it landed nowhere. `frame` is a frame
        (None: appended) or a function of the timeline giving one, asked when the file is placed:
        edits made while it was being copied are then taken into account."""
        project = self.project
        if project is None:
            self.message.emit("Make or open a project first (File > New project).")
            on_failed and on_failed()
            return
        at = frame if callable(frame) else (lambda _timeline: frame)
        place = lambda timeline, ref: placement(timeline, ref, track, at(timeline))  # noqa: E731
        known = next((ref for ref in project.timeline.media if ref.path and Path(ref.path) == Path(path)), None)
        if known is not None:
            if self.apply(place(project.timeline, known)):
                on_added and on_added(known)
            else:
                on_failed and on_failed()
            return

        def probe_and_copy():
            timeline = project.timeline
            return project.add_media(path, check=lambda ref: place(timeline, ref).apply(timeline))

        def added(ref) -> None:
            if project is self.project and self.apply(place(project.timeline, ref)):
                on_added and on_added(ref)
            else:
                on_failed and on_failed()

        def refused(text: str) -> None:
            self.message.emit(f"Cannot add {Path(path).name}: {text}")
            on_failed and on_failed()

        self._calls.call(probe_and_copy, added, refused)
