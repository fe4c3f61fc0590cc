"""What the timeline dock draws of the media itself: frames along video clips, waveforms of audio
clips, and the continuity and identity measures at each cut between neighbouring video clips.

All of it decodes or measures, so it runs on one worker thread (a single-thread pool: these never
compete with the player for the two cores), and the view draws only what is cached here:
- filmstrip frames per (media, source frame), on a grid fixed in source frames (`filmstrip_frames`),
  so zooming and trimming reuse what they keep; a slot whose frame is not ready yet shows the
  nearest ready one;
- an audio clip's envelope per (media, source in, duration), PEAKS_PER_FRAME (min, max) pairs per
  project frame, merged to pixel columns when drawn;
- the measures at a cut per (clip before: media and out point, clip after: media and in point).
Caches are keyed by the MediaRef itself rather than its id, so an edit of the media table keeps
everything that still applies and drops what no longer does.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal

from engine.errors import BadInput
from engine.timeline.model import Clip, MediaRef, Timeline, Track, Transition
from studio.background import BackgroundCalls
from studio.images import to_qimage

THUMB_HEIGHT = 40
MAX_THUMBS_PER_CLIP = 12  # frames rendered along one clip (its first frame besides)
PEAKS_PER_FRAME = 8  # envelope pairs per project frame: 8 px per pair at the dock's closest zoom
MAX_PEAKS = 1 << 15  # a very long clip gets a coarser envelope, not an unbounded one
MEASURE_HEIGHT = 360  # cut measures at 1280x720 took 0.46 s a cut on 2 busy cores, at 640x360 0.10 s
# SSIM of the frames either side of a cut: at or above the first it reads as continuous (green), at or
# above the second as a visible change (amber), below as a jump (red)
CONTINUITY_THRESHOLDS = (0.8, 0.5)


def clip_only(timeline: Timeline, clip: Clip) -> Timeline:
    """A timeline of just `clip`, so its pictures show the clip and not what covers it."""
    return dataclasses.replace(timeline, tracks=(Track("video", (clip,)),), markers=())


def thumbnail_width(timeline: Timeline) -> int:
    return max(2, round(THUMB_HEIGHT * timeline.width / timeline.height))


def render_thumbnails(timeline: Timeline, clip: Clip, frames) -> dict:
    """The clip's source frames `frames` as THUMB_HEIGHT-high QImages at the project's shape, by
    source frame; one renderer reads them in order (a worker's job: it decodes)."""
    from engine.timeline.render import FrameRenderer

    with FrameRenderer(clip_only(timeline, clip), thumbnail_width(timeline), THUMB_HEIGHT) as renderer:
        return {frame: to_qimage(renderer.render_frame(frame - clip.source_in)) for frame in sorted(frames)}


def render_thumbnail(timeline: Timeline, clip: Clip):
    """The clip's first frame, as `render_thumbnails` makes it."""
    return render_thumbnails(timeline, clip, [clip.source_in])[clip.source_in]


def filmstrip_frames(clip: Clip, ref: MediaRef) -> list[int]:
    """The source frames drawn along `clip`: its first, and the multiples of a power-of-two step inside
    it, the step the smallest giving at most MAX_THUMBS_PER_CLIP. The grid is fixed in source frames,
    so a trim that keeps frames keeps their pictures, and a split's halves share them."""
    if ref.kind == "image":
        return [clip.source_in]
    step = 1
    while step * MAX_THUMBS_PER_CLIP < clip.duration:
        step *= 2
    first_on_grid = -(-clip.source_in // step) * step
    return [clip.source_in] + [f for f in range(first_on_grid, clip.source_out, step) if f != clip.source_in]


def measure_waveform(timeline: Timeline, ref: MediaRef, clip: Clip) -> np.ndarray:
    """The envelope of the clip's source range (a worker's job: it decodes)."""
    from engine.timeline.audio import peaks

    rate = timeline.rate
    buckets = min(MAX_PEAKS, clip.duration * PEAKS_PER_FRAME)
    return peaks(ref, rate.seconds(clip.source_in), rate.seconds(clip.source_out), buckets)


def cuts_of(track: Track) -> list[tuple[int, int, int]]:
    """(clip before, clip after, cut frame) for every cut between two clips of `track`, side by side
    or across one transition."""
    found, starts, items = [], track.starts(), track.items
    for index, item in enumerate(items):
        after = index + 2 if index + 1 < len(items) and isinstance(items[index + 1], Transition) else index + 1
        if isinstance(item, Clip) and after < len(items) and isinstance(items[after], Clip):
            found.append((index, after, starts[after]))
    return found


def identity_references(ref: MediaRef) -> list | None:
    """The identity references recorded in the sidecar beside a generated clip's file, as arrays;
    None where there is no sidecar or it records none (a damaged sidecar or reference raises)."""
    from engine.clips.files import read_clip_request, sidecar_of
    from engine.images import load_rgb

    try:
        sidecar = sidecar_of(ref.path)
    except BadInput:  # not a clip preview, or none beside it
        return None
    references = [np.asarray(load_rgb(path)) for path in read_clip_request(sidecar).identity_references]
    return references or None


def measure_cut(timeline: Timeline, before: Clip, after: Clip) -> dict:
    """engine.clips.drift.cut_between on the last rendered frame of `before` and the first of
    `after`, with `after`'s identity references (a worker's job). Frames are rendered at most
    MEASURE_HEIGHT high; the jump is given in project pixels."""
    from engine.clips.drift import cut_between
    from engine.timeline.render import render_frame

    height = min(timeline.height, MEASURE_HEIGHT)
    width = max(2, round(height * timeline.width / timeline.height))
    last = render_frame(clip_only(timeline, before), before.duration - 1, width, height)
    first = render_frame(clip_only(timeline, after), 0, width, height)
    measured = cut_between(last, first, identity_references(timeline.media_by_id()[after.media]))
    if measured["jump"] is not None:
        measured["jump"] *= timeline.height / height
    return measured


def continuity_grade(ssim: float) -> str:
    """"good", "fair" or "poor" by CONTINUITY_THRESHOLDS."""
    good, fair = CONTINUITY_THRESHOLDS
    return "good" if ssim >= good else "fair" if ssim >= fair else "poor"


class TimelinePreviews(QObject):
    """The cached pictures, envelopes and cut measures of the current timeline (module docstring)."""

    changed = Signal()  # something new is ready: repaint

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._media: dict[str, MediaRef] = {}
        self._frames: dict[MediaRef, dict[int, object]] = {}  # ref -> source frame -> QImage
        self._waveforms: dict[tuple, np.ndarray] = {}
        self._cuts: dict[tuple, dict | str] = {}  # measures, or why they could not be taken
        self._asked: set[tuple] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.destroyed.connect(self._pool.clear)  # a closing window waits for the call running, not the queue
        self._calls = BackgroundCalls(latest_only=False, pool=self._pool, parent=self)

    def update(self, timeline: Timeline | None) -> None:
        """Forget what `timeline` no longer uses; ask for what it shows that is neither cached nor asked."""
        self._media = timeline.media_by_id() if timeline is not None else {}
        self._forget_unused(set(self._media.values()))
        if timeline is None:
            return
        videos = [track for track in timeline.tracks if track.kind == "video"]
        later = []
        for track in videos:  # every clip's first frame before any clip's other frames
            for clip in (item for item in track.items if isinstance(item, Clip)):
                ref = self._media[clip.media]
                wanted = [f for f in filmstrip_frames(clip, ref) if ("frame", ref, f) not in self._asked]
                if wanted and wanted[0] == clip.source_in:
                    self._ask_frames(timeline, clip, ref, wanted[:1])
                    wanted = wanted[1:]
                if wanted:
                    later.append(partial(self._ask_frames, timeline, clip, ref, wanted))
        for ask in later:
            ask()
        for track in timeline.tracks:
            for clip in (item for item in track.items if isinstance(item, Clip) and track.kind == "audio"):
                key = self._waveform_key(clip)
                if key not in self._asked:
                    self._asked.add(key)
                    self._calls.call(partial(measure_waveform, timeline, key[1], clip),
                                     partial(self._store, self._waveforms, key), lambda _text: None)
        for track in videos:
            for before, after, _frame in cuts_of(track):
                key = self._cut_key(track.items[before], track.items[after])
                if key not in self._asked:
                    self._asked.add(key)
                    store = partial(self._store, self._cuts, key)
                    self._calls.call(partial(measure_cut, timeline, track.items[before], track.items[after]),
                                     store, store)

    def _forget_unused(self, refs: set) -> None:
        """Drop what is of media no longer in the table (in place: calls on the way hold these caches)."""
        unused = lambda key: any(isinstance(part, MediaRef) and part not in refs for part in key)  # noqa: E731
        self._asked.difference_update([key for key in self._asked if unused(key)])
        for cache in (self._frames, self._waveforms, self._cuts):
            for key in [key for key in cache if unused(key if isinstance(key, tuple) else (key,))]:
                del cache[key]

    def _ask_frames(self, timeline: Timeline, clip: Clip, ref: MediaRef, frames: list[int]) -> None:
        self._asked.update(("frame", ref, f) for f in frames)
        self._calls.call(partial(render_thumbnails, timeline, clip, frames), partial(self._frames_ready, ref),
                         lambda _text: None)

    def _frames_ready(self, ref: MediaRef, images: dict) -> None:
        kept = {f: image for f, image in images.items() if ("frame", ref, f) in self._asked and image is not None}
        if kept:  # else dropped by a change of media since
            self._frames.setdefault(ref, {}).update(kept)
            self.changed.emit()

    def _store(self, cache: dict, key: tuple, value) -> None:
        if key in self._asked:
            cache[key] = value
            self.changed.emit()

    def _waveform_key(self, clip: Clip) -> tuple:
        return ("wave", self._media[clip.media], clip.source_in, clip.duration)

    def _cut_key(self, before: Clip, after: Clip) -> tuple:
        return ("cut", self._media[before.media], before.source_out, self._media[after.media], after.source_in)

    # --- what the view draws -----------------------------------------------------------------

    def first_picture(self, clip: Clip):
        ref = self._media.get(clip.media)
        return self._frames.get(ref, {}).get(clip.source_in)

    def picture(self, clip: Clip, frame: int):
        """The ready picture of the clip's media nearest to source frame `frame`, inside the clip."""
        ready = self._frames.get(self._media.get(clip.media), {})
        inside = [f for f in ready if clip.source_in <= f < clip.source_out] or list(ready)  # a still's one frame
        return ready[min(inside, key=lambda f: abs(f - frame))] if inside else None

    def waveform(self, clip: Clip) -> np.ndarray | None:
        return self._waveforms.get(self._waveform_key(clip)) if clip.media in self._media else None

    def cut_measures(self, before: Clip, after: Clip) -> dict | str | None:
        """The measures at the cut (engine.clips.drift.cut_between), why they failed, or None while pending."""
        if before.media not in self._media or after.media not in self._media:
            return None
        return self._cuts.get(self._cut_key(before, after))

    def pending(self) -> bool:
        return self._calls.pending()
