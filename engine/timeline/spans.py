"""Where each clip of a track is heard or seen, and how strongly: what video and audio share.

A clip is active over its own frames plus the handles a crossfade borrows on either side;
across a transition its weight rises from 0 (or falls to 0) linearly. Video samples the ramp
once per frame, (k + 1) / (L + 1) for frame k of an L-frame transition, so an odd-length
crossfade's middle frame is an exact 50/50 blend; audio follows the same ramp per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.timeline.model import Clip, Track, Transition


@dataclass(frozen=True)
class Span:
    clip: Clip
    index: int  # the clip's index in its track's items
    start: int  # timeline frame of the clip's source_in
    begin: int  # first active frame (earlier than start inside a crossfade's handle)
    end: int  # one past the last active frame
    rise: tuple[int, int] | None = None  # frames [a, b) where the weight climbs from 0 to 1
    fall: tuple[int, int] | None = None  # frames [a, b) where it drops from 1 to 0

    def source_frame(self, frame: int) -> int:
        return self.clip.source_in + frame - self.start

    def weight(self, frame: int) -> float:
        """The clip's share of timeline frame `frame` (0 outside its active range)."""
        if not self.begin <= frame < self.end:
            return 0.0
        weight = 1.0
        if self.rise and self.rise[0] <= frame < self.rise[1]:
            weight *= (frame - self.rise[0] + 1) / (self.rise[1] - self.rise[0] + 1)
        if self.fall and self.fall[0] <= frame < self.fall[1]:
            weight *= 1 - (frame - self.fall[0] + 1) / (self.fall[1] - self.fall[0] + 1)
        return weight

    def envelope(self, frames):
        """The same ramps at fractional frame times (a numpy array), for audio samples."""
        import numpy as np

        weight = ((frames >= self.begin) & (frames < self.end)).astype(np.float32)
        for ramp, rising in ((self.rise, True), (self.fall, False)):
            if ramp:
                position = np.clip((frames - ramp[0]) / (ramp[1] - ramp[0]), 0.0, 1.0)
                weight *= position if rising else 1.0 - position
        return weight


def track_spans(track: Track) -> list[Span]:
    items = track.items
    spans = []
    for index, (start, item) in enumerate(zip(track.starts(), items)):
        if not isinstance(item, Clip):
            continue
        begin, end = start, start + item.duration
        rise = fall = None
        before = items[index - 1] if index > 0 else None
        after = items[index + 1] if index + 1 < len(items) else None
        if isinstance(before, Transition):
            rise = (start - before.in_offset, start + before.out_offset)
            if before.kind == "crossfade":
                begin = rise[0]
        if isinstance(after, Transition):
            cut = end
            fall = (cut - after.in_offset, cut + after.out_offset)
            if after.kind == "crossfade":
                end = fall[1]
        spans.append(Span(item, index, start, begin, end, rise, fall))
    return spans


class TrackSpans:
    """A track's spans, indexed for "what is active at frame n" (at most two: a crossfade's sides)."""

    def __init__(self, track: Track):
        self.spans = track_spans(track)
        self._begins = [span.begin for span in self.spans]

    def at(self, frame: int) -> list[tuple[Span, float]]:
        import bisect

        # spans are in track order and overlap only pairwise, so only the last two begun can be active
        position = bisect.bisect_right(self._begins, frame)
        found = []
        for span in self.spans[max(0, position - 2): position]:
            weight = span.weight(frame)
            if weight > 0:
                found.append((span, weight))
        return found
