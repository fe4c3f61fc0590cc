"""What the timeline dock shows of an engine Timeline: playhead, selection, zoom, snapping, and (through
studio.viewmodels.timeline_previews) the pictures, waveforms and cut measures drawn on it.

The Timeline itself stays the engine's immutable value (engine.timeline.model); this holds
only the view's state around it and answers the questions the view asks in frames (where the
cuts are, which item is under a frame, where a drag snaps to). Edits are not made here: the
view builds engine commands and hands them to the ProjectSession.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.timeline.model import Clip, Timeline, Track, Transition
from studio.viewmodels.timeline_previews import TimelinePreviews, render_thumbnail

__all__ = ["TimelineState", "cut_frames", "item_at", "render_thumbnail", "snap", "timecode", "transition_after"]

MIN_PX_PER_FRAME, MAX_PX_PER_FRAME = 0.05, 64.0
SNAP_PX = 8  # how close (on screen) a dragged edge must come to a cut or the playhead to stick to it


def timecode(frame: int, fps: float) -> str:
    """HH:MM:SS:FF at the project rate (frames counted from 0), as editors show it."""
    whole = max(1, round(fps))
    seconds, frames = divmod(max(0, frame), whole)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def cut_frames(timeline: Timeline) -> list[int]:
    """Every frame where an item starts or ends, on any track, sorted."""
    cuts = {0}
    for track in timeline.tracks:
        for start, item in zip(track.starts(), track.items):
            cuts.update((start, start + item.duration))
    return sorted(cuts)


def item_at(track: Track, frame: int) -> int | None:
    """The index of the clip or gap covering `frame` on `track` (None past the end)."""
    for index, (start, item) in enumerate(zip(track.starts(), track.items)):
        if not isinstance(item, Transition) and start <= frame < start + item.duration:
            return index
    return None


def snap(frame: int, targets, tolerance: float) -> int:
    """`frame` moved onto the nearest target within `tolerance` frames, else unchanged."""
    best = min(targets, key=lambda t: abs(t - frame), default=None)
    return best if best is not None and abs(best - frame) <= tolerance else frame


def transition_after(track: Track, index: int) -> int | None:
    """The index of the crossfade right after item `index`, if there is one."""
    after = index + 1
    if after < len(track.items) and isinstance(track.items[after], Transition):
        return after
    return None


class TimelineState(QObject):
    """The dock's view of the current Timeline."""

    changed = Signal()  # the timeline, the zoom or a preview: repaint
    playhead_changed = Signal(int)
    selection_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.timeline: Timeline | None = None
        self.playhead = 0
        self.selected: tuple[int, int] | None = None  # (track, item index)
        self.px_per_frame = 4.0
        self.snapping = True
        self.previews = TimelinePreviews(self)
        self.previews.changed.connect(self.changed)

    # --- the timeline --------------------------------------------------------------------

    def set_timeline(self, timeline: Timeline | None) -> None:
        self.timeline = timeline
        if self.selected and not self._valid(self.selected):
            self.selected = None
            self.selection_changed.emit()
        self.set_playhead(min(self.playhead, self.duration))
        self.previews.update(timeline)
        self.changed.emit()

    @property
    def duration(self) -> int:
        return self.timeline.duration if self.timeline else 0

    def _valid(self, selected) -> bool:
        track, index = selected
        return (self.timeline is not None and track < len(self.timeline.tracks)
                and index < len(self.timeline.tracks[track].items)
                and isinstance(self.timeline.tracks[track].items[index], Clip))

    def set_playhead(self, frame: int) -> None:
        frame = max(0, min(int(frame), max(0, self.duration)))
        if frame != self.playhead:
            self.playhead = frame
            self.playhead_changed.emit(frame)

    def select(self, selected: tuple[int, int] | None) -> None:
        if selected is not None and not self._valid(selected):
            selected = None
        if selected != self.selected:
            self.selected = selected
            self.selection_changed.emit()

    def selected_clip(self) -> Clip | None:
        if not self.selected:
            return None
        track, index = self.selected
        return self.timeline.tracks[track].items[index]

    # --- zoom and snapping -----------------------------------------------------------------

    def set_zoom(self, px_per_frame: float) -> None:
        self.px_per_frame = max(MIN_PX_PER_FRAME, min(MAX_PX_PER_FRAME, px_per_frame))
        self.changed.emit()

    def fit(self, width_px: int) -> None:
        self.set_zoom(max(1, width_px - 20) / max(1, self.duration))

    def snap_targets(self, exclude: tuple[int, int] | None = None) -> list[int]:
        """Cuts of every track (leaving out the dragged item's own edges) and the playhead."""
        targets = {self.playhead}
        if self.timeline is None:
            return sorted(targets)
        for number, track in enumerate(self.timeline.tracks):
            for index, (start, item) in enumerate(zip(track.starts(), track.items)):
                if (number, index) != exclude:
                    targets.update((start, start + item.duration))
        return sorted(targets)

    def snapped(self, frame: int, exclude: tuple[int, int] | None = None) -> int:
        if not self.snapping:
            return frame
        return snap(frame, self.snap_targets(exclude), SNAP_PX / self.px_per_frame)

    # --- previews ------------------------------------------------------------------------

    def thumbnail(self, clip: Clip):
        """The clip's first frame once rendered (None until then)."""
        return self.previews.first_picture(clip)

    def thumbnails_pending(self) -> bool:
        """Whether pictures, waveforms or cut measures are still being made."""
        return self.previews.pending()
