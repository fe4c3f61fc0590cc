"""A procedural checker for clips: does a clip move as its toy-scenes-motion caption says?

Every frame goes through the toy-scenes checker (engine.toy.checker.check) against the caption
without its motion phrases, which finds each object's blob by its colour and measures its
centroid, area and shape. From those tracks, per object:

- motion: "moving to the left/right/up/down": the centroid moves the named way by at least
  4 px (at 64 px) from the first frame to the last; "growing"/"shrinking": the blob's area grows
  or shrinks by at least 20%; no motion phrase (still): the centroid moves under 2 px.
- colour kept: the object's colour is found in the frame (at least the share of its expected area
  that the toy-scenes checker asks for); shape kept: the frame's blob reads as the caption's shape.

Per clip: the first frame meets the toy-scenes checks (colour + position of every object and the
background), and no frame-to-frame change (mean absolute pixel difference) is larger than twice
the median one (flicker), with a floor of 1 grey level so a clip that hardly changes passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.toy import checker
from engine.toy import motion_scenes as M

MIN_TRAVEL_PX = 4.0  # at 64 px; scaled with the frame
MAX_STILL_PX = 2.0
MIN_AREA_CHANGE = 0.2
FLICKER_RATIO = 2.0
FLICKER_FLOOR = 1.0  # grey levels


@dataclass(frozen=True)
class ObjectTrack:
    motion: str | None
    motion_ok: bool
    colour_frames: int  # frames where the object's colour was found
    shape_frames: int  # frames where its blob read as its shape
    frames: int
    travel_px: tuple[float, float] | None  # (dx, dy) first to last frame, at 64 px
    area_ratio: float | None  # last frame's area over the first's


@dataclass(frozen=True)
class ClipCheck:
    objects: tuple[ObjectTrack, ...]
    first_frame_ok: bool
    flicker_ok: bool
    details: dict = field(default_factory=dict, compare=False)

    @property
    def all_motion_ok(self) -> bool:
        return all(o.motion_ok for o in self.objects)

    def to_json(self) -> dict:
        return {"first_frame_ok": self.first_frame_ok, "flicker_ok": self.flicker_ok,
                "objects": [{"motion": o.motion, "motion_ok": o.motion_ok, "colour_frames": o.colour_frames,
                             "shape_frames": o.shape_frames, "frames": o.frames,
                             "travel_px": o.travel_px, "area_ratio": o.area_ratio} for o in self.objects],
                **self.details}


def motion_ok(motion: str | None, travel: tuple[float, float] | None, area_ratio: float | None) -> bool:
    """Whether a track (travel in px at 64 px, area ratio last/first) moved as `motion` says."""
    if travel is None or area_ratio is None:
        return False  # the object was lost in the first or the last frame
    if motion is None:
        return float(np.hypot(*travel)) < MAX_STILL_PX
    if motion == "growing":
        return area_ratio >= 1 + MIN_AREA_CHANGE
    if motion == "shrinking":
        return area_ratio <= 1 - MIN_AREA_CHANGE
    ux, uy = M.MOTIONS[motion]
    return travel[0] * ux + travel[1] * uy >= MIN_TRAVEL_PX


def flicker(frames: np.ndarray) -> tuple[bool, list[float]]:
    """(no jump over twice the median, the frame-to-frame mean absolute differences)."""
    jumps = [float(np.abs(b.astype(np.float32) - a.astype(np.float32)).mean()) for a, b in zip(frames, frames[1:])]
    if not jumps:
        return True, jumps
    limit = max(FLICKER_RATIO * float(np.median(jumps)), FLICKER_FLOOR)
    return max(jumps) <= limit, jumps


def check_clip(frames: np.ndarray, caption: str | M.MotionClip) -> ClipCheck:
    """Check F x H x W x 3 uint8 frames against a motion caption (text or parsed clip)."""
    clip = M.parse_motion_caption(caption) if isinstance(caption, str) else caption
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        raise ValueError(f"expected F x H x W x 3 RGB frames (F >= 2), got shape {frames.shape}")
    size = frames.shape[1]
    results = [checker.check(frame, clip.scene) for frame in frames]
    tracks = []
    for index, (obj, motion) in enumerate(zip(clip.scene.objects, clip.motions)):
        infos = [r.details["objects"][index] for r in results]
        found = [i["area"] >= checker.MIN_AREA_SHARE * i["expected_area"] for i in infos]
        shapes = [f and i["shape"] == obj.shape for f, i in zip(found, infos)]
        travel = area_ratio = None
        if found[0] and found[-1]:
            (x0, y0), (x1, y1) = infos[0]["centroid"], infos[-1]["centroid"]
            scale = 64.0  # centroids are fractions of the frame; distances are quoted at 64 px
            travel = (round((x1 - x0) * scale, 2), round((y1 - y0) * scale, 2))
            area_ratio = round(infos[-1]["area"] / max(infos[0]["area"], 1e-9), 3)
        tracks.append(ObjectTrack(motion, motion_ok(motion, travel, area_ratio), int(sum(found)), int(sum(shapes)),
                                  len(frames), travel, area_ratio))
    first = results[0]
    steady, jumps = flicker(frames)
    return ClipCheck(tuple(tracks), bool(first.background and all(first.colour_position)), steady,
                     {"jumps": [round(j, 2) for j in jumps], "size": size})
