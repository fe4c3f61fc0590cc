"""The frame renderer: timeline frame n as an RGB image, for export, thumbnails and the player.

Video tracks are composited bottom (first) to top (last): where an upper track has a clip
it covers what is below, except the bars left when a clip of another shape is fitted
(letterbox/pillarbox), which stay see-through. A crossfade sums its two sides' weighted
frames; a fade weights its clip against black. Media of another rate shows the media frame
that is on screen at that moment (nearest-frame rate conversion).

One FrameRenderer per consumer (the export, the player): it keeps a decoder per clip, so
playing or exporting in order decodes each frame once, and the last few composited frames.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from engine.timeline.media import VideoFrames, available_path
from engine.timeline.model import MediaRef, Timeline
from engine.timeline.spans import Span, TrackSpans

OPEN_DECODERS = 8  # decoders kept open; a long timeline plays through one or two clips at a time
CACHED_FRAMES = 8


def fit(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """`image` scaled to fit width x height keeping its shape; returns it and its top-left offset."""
    import cv2

    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return image, ((height - new_h) // 2, (width - new_w) // 2)


def media_frame_index(ref: MediaRef, timeline: Timeline, source_frame: int) -> int:
    """The media's own frame on screen at project source frame `source_frame` (exact arithmetic)."""
    rate, media_rate = timeline.rate, ref.rate
    return (source_frame * rate.den * media_rate.num) // (rate.num * media_rate.den)


class FrameRenderer:
    def __init__(self, timeline: Timeline, width: int | None = None, height: int | None = None):
        self.timeline = timeline
        self.width = width or timeline.width
        self.height = height or timeline.height
        self._media = timeline.media_by_id()
        self._tracks = [TrackSpans(track) for track in timeline.tracks if track.kind == "video"]
        self._decoders: OrderedDict[tuple[int, int], VideoFrames] = OrderedDict()
        self._stills: dict[str, tuple[np.ndarray, tuple[int, int]]] = {}
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()

    def render_frame(self, n: int) -> np.ndarray:
        """Timeline frame `n` as height x width x 3 uint8 (black past the end)."""
        cached = self._frames.get(n)
        if cached is not None:
            self._frames.move_to_end(n)
            return cached
        layers = [(number, track.at(n)) for number, track in enumerate(self._tracks)]
        # tracks under one that fills the whole frame can't be seen: don't decode them
        first = next((i for i in reversed(range(len(layers))) if self._fills_frame(layers[i][1])), 0)
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        for number, active in layers[first:]:
            if active:
                self._composite(canvas, [(self._picture(number, span, n), weight) for span, weight in active])
        self._frames[n] = canvas
        if len(self._frames) > CACHED_FRAMES:
            self._frames.popitem(last=False)
        return canvas

    def _fills_frame(self, active) -> bool:
        return bool(active) and all(self._rect(span) == (0, 0, self.height, self.width) for span, _ in active)

    def _rect(self, span: Span) -> tuple[int, int, int, int]:
        """(top, left, height, width) the clip's media takes once fitted (from its probed size)."""
        ref = self._media[span.clip.media]
        if not ref.width or not ref.height:
            return (0, 0, self.height, self.width)
        scale = min(self.width / ref.width, self.height / ref.height)
        h, w = max(1, round(ref.height * scale)), max(1, round(ref.width * scale))
        return ((self.height - h) // 2, (self.width - w) // 2, h, w)

    @staticmethod
    def _composite(canvas: np.ndarray, pictures: list) -> None:
        """Put one track's weighted pictures over `canvas` (a fade's missing weight is black)."""
        import cv2

        (first, (top, left)), weight = pictures[0]
        h, w = first.shape[:2]
        same_place = all(p[0][1] == (top, left) and p[0][0].shape == first.shape for p in pictures)
        if same_place and len(pictures) <= 2:  # the usual case: one rectangle, blended in uint8
            if len(pictures) == 1:
                blended = first if weight == 1.0 else cv2.convertScaleAbs(first, alpha=weight)
            else:
                (second, _), other = pictures[1]
                blended = cv2.addWeighted(first, weight, second, other, 0.0)
            canvas[top:top + h, left:left + w] = blended
            return
        layer = np.zeros(canvas.shape, np.float32)  # crossfading pictures of different shapes
        covered = np.zeros(canvas.shape[:2], bool)
        for (image, (y, x)), share in pictures:
            ih, iw = image.shape[:2]
            layer[y:y + ih, x:x + iw] += share * image
            covered[y:y + ih, x:x + iw] = True
        canvas[covered] = np.clip(layer[covered] + 0.5, 0, 255).astype(np.uint8)

    def _picture(self, track: int, span: Span, n: int) -> tuple[np.ndarray, tuple[int, int]]:
        ref = self._media[span.clip.media]
        if ref.kind == "image":
            if ref.id not in self._stills:
                from engine.images import load_rgb

                self._stills[ref.id] = fit(np.asarray(load_rgb(self._path(ref))), self.width, self.height)
            return self._stills[ref.id]
        key = (track, span.index)
        decoder = self._decoders.get(key)
        if decoder is None:
            self._path(ref)
            decoder = self._decoders[key] = VideoFrames(ref)
            if len(self._decoders) > OPEN_DECODERS:
                self._decoders.popitem(last=False)[1].close()
        self._decoders.move_to_end(key)
        return fit(decoder.frame(media_frame_index(ref, self.timeline, span.source_frame(n))), self.width, self.height)

    def _path(self, ref: MediaRef) -> str:
        return available_path(ref)

    def close(self) -> None:
        for decoder in self._decoders.values():
            decoder.close()
        self._decoders.clear()

    def __enter__(self) -> "FrameRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_frame(timeline: Timeline, n: int, width: int | None = None, height: int | None = None) -> np.ndarray:
    """One frame with a renderer of its own (a thumbnail); keep a FrameRenderer to render many."""
    with FrameRenderer(timeline, width, height) as renderer:
        return renderer.render_frame(n)
