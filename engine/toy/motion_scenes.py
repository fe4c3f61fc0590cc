"""Procedural moving scenes and their captions for the bundled motion model "toy-scenes-motion".

The toy-scenes grammar (engine.toy.scenes) with an optional motion phrase after each object's
position:

    one object:  "a [small|large] {colour} {shape} {position} [{motion}] {background}"
    two objects: "a {colour} {shape} {position} [{motion}] and a {colour} {shape} {position} [{motion}] {background}"

    motion: moving to the left | moving to the right | moving up | moving down | growing | shrinking
            (no phrase: the object stays still)

A clip starts with the object at its named position (the first frame is a toy-scenes picture of
the caption without its motion phrases) and moves it at a constant rate: 1.2-2.0 px per frame at
64 px for the four directions, a radius change of 6-9% per frame for growing and shrinking.
Colour, shape, tint, shading and rotation stay as they are; size changes only when the caption
says growing or shrinking. `render_clip(clip)` gives the ground-truth frames for any caption
(`parse_motion_caption`), for tests, evaluation and the continue measures.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from engine.toy import scenes as S

MOTIONS = {
    # phrase -> (dx, dy) direction in pixels, or the sign of the radius change for growing/shrinking
    "moving to the left": (-1, 0),
    "moving to the right": (1, 0),
    "moving up": (0, -1),
    "moving down": (0, 1),
    "growing": (0, 0),
    "shrinking": (0, 0),
}
DIRECTIONS = tuple(p for p in MOTIONS if p.startswith("moving"))
MOTION_WORDS = sorted({w for phrase in MOTIONS for w in phrase.split()} - set(S.VOCABULARY))
VOCABULARY = sorted(set(S.VOCABULARY) | set(MOTION_WORDS))

DEFAULT_FRAMES = 8
SPEED_RANGE = (1.2, 2.0)  # px per frame at 64 px for the four directions (8-14 px over 8 frames)
SCALE_RANGE = (0.06, 0.09)  # radius change per frame (fraction) for growing/shrinking: the edge of a
# plain-sized object (radius 9 px) moves 0.5-0.8 px a frame, the 0.5-2 px; at 3-5% it moved
# 0.3-0.45 px, under a latent pixel over the whole clip, and the fourth-session model never learned it
CANONICAL_SPEED = 1.6
CANONICAL_SCALE_RATE = 0.075
P_STILL = 0.2  # an object without a motion phrase
STILL_WORD = "still"  # what a model trained with --still-word reads for it (mark_still)


@dataclass(frozen=True)
class MotionClip:
    """A toy scene whose objects move: `motions[i]` is object i's phrase (None: still) and
    `rates[i]` its speed (px/frame at 64 px) or its radius change per frame."""

    scene: S.Scene
    motions: tuple[str | None, ...]
    rates: tuple[float, ...]


def motion_caption(clip: MotionClip, still_word: str = "") -> str:
    """The caption: toy-scenes' with each object's motion phrase after its position, and with
    `still_word` there for an object without one (the model's form of the caption, mark_still)."""
    text = S.caption(clip.scene)
    # the position phrases of the objects, in order; each motion phrase follows its object's
    parts = text.split(" and ") if len(clip.scene.objects) == 2 else [text]
    out = []
    for part, obj, motion in zip(parts, clip.scene.objects, clip.motions):
        if motion or still_word:
            part = part.replace(obj.position, f"{obj.position} {motion or still_word}", 1)
        out.append(part)
    return " and ".join(out)


def mark_still(text: str, still_word: str) -> str:
    """`text` as a model trained with `still_word` reads it: the word after the position of each
    object the caption gives no motion. The grammar says nothing for a still object, and a model
    that learns "no motion words" as "still" must learn it from an absence, which the seventh and
    eighth sessions' runs did not (engine/toy/README.md); a word of its own can be learnt like the
    motion words. Text outside the grammar, or no word, is left as it is."""
    if not still_word:
        return text
    try:
        return motion_caption(parse_motion_caption(text), still_word)
    except ValueError:
        return text


_MOTION_RE = re.compile(r" (" + "|".join(re.escape(m) for m in MOTIONS) + r")(?= and | on a )")


def parse_motion_caption(text: str) -> MotionClip:
    """The canonical clip a caption describes; ValueError for text outside the grammar."""
    norm = " ".join(text.lower().strip().rstrip(".").split())
    stripped = _MOTION_RE.sub("", norm)
    try:
        scene = S.parse_caption(stripped)
    except ValueError:
        raise ValueError(f"{text!r} is not a toy-scenes-motion caption") from None
    motions: list[str | None] = [None] * len(scene.objects)
    for match in _MOTION_RE.finditer(norm):
        index = 1 if " and " in norm[:match.start()] else 0
        if motions[index]:
            raise ValueError(f"{text!r} gives one object two motions")
        motions[index] = match[1]
    rates = tuple(canonical_rate(m) for m in motions)
    return MotionClip(scene, tuple(motions), rates)


def canonical_rate(motion: str | None) -> float:
    if motion in ("growing", "shrinking"):
        return CANONICAL_SCALE_RATE
    return CANONICAL_SPEED if motion else 0.0


def still_caption(text: str) -> str:
    """A motion caption without its motion phrases: what the first frame shows, as toy-scenes says it."""
    return S.caption(parse_motion_caption(text).scene)


def sample_motion(rng: np.random.Generator, p_still: float = P_STILL) -> tuple[str | None, float]:
    if rng.random() < p_still:
        return None, 0.0
    motion = str(rng.choice(list(MOTIONS)))
    low, high = SCALE_RANGE if motion in ("growing", "shrinking") else SPEED_RANGE
    return motion, float(rng.uniform(low, high))


def sample_clip(rng: np.random.Generator, p_two: float = 0.3, p_still: float = P_STILL) -> MotionClip:
    """A random moving scene (toy-scenes' variations, a motion drawn per object, none with `p_still`)."""
    scene = S.sample_scene(rng, p_two)
    drawn = [sample_motion(rng, p_still) for _ in scene.objects]
    return MotionClip(scene, tuple(m for m, _ in drawn), tuple(r for _, r in drawn))


def object_at(obj: S.SceneObject, motion: str | None, rate: float, frame: int, frames: int,
              size: int = 64) -> S.SceneObject:
    """Object `obj` in `frame` of a `frames`-long clip. A moving object passes its named position
    at a quarter of the clip (it starts a little behind it), so its first frame is in its region."""
    if not motion:
        return obj
    if motion in ("growing", "shrinking"):
        sign = 1.0 if motion == "growing" else -1.0
        return dataclasses.replace(obj, scale=obj.scale * (1.0 + sign * rate) ** frame)
    ux, uy = MOTIONS[motion]
    travel = (frame - 0.25 * (frames - 1)) * rate / size  # fraction of the frame
    return dataclasses.replace(obj, dx=obj.dx + ux * travel, dy=obj.dy + uy * travel)


def scene_at(clip: MotionClip, frame: int, frames: int = DEFAULT_FRAMES, size: int = 64) -> S.Scene:
    objs = tuple(object_at(o, m, r, frame, frames, size) for o, m, r in zip(clip.scene.objects, clip.motions, clip.rates))
    return dataclasses.replace(clip.scene, objects=objs)


def render_clip(clip: MotionClip | str, frames: int = DEFAULT_FRAMES, size: int = 64) -> np.ndarray:
    """The clip as frames x size x size x 3 uint8 RGB (a caption gives its canonical clip)."""
    if isinstance(clip, str):
        clip = parse_motion_caption(clip)
    return np.stack([S.render(scene_at(clip, f, frames, size), size) for f in range(frames)])


def render_clips(rng: np.random.Generator, count: int, frames: int = DEFAULT_FRAMES, size: int = 64,
                 p_two: float = 0.3, p_still: float = P_STILL):
    """`count` random clips: (N x frames x size x size x 3 uint8, captions, clips)."""
    clips = [sample_clip(rng, p_two, p_still) for _ in range(count)]
    return np.stack([render_clip(c, frames, size) for c in clips]), [motion_caption(c) for c in clips], clips


def with_motion(clip: MotionClip, index: int, motion: str | None) -> MotionClip:
    """The clip with object `index` given another motion phrase (rate kept where it applies)."""
    motions = list(clip.motions)
    rates = list(clip.rates)
    motions[index] = motion
    rates[index] = canonical_rate(motion)
    return MotionClip(clip.scene, tuple(motions), tuple(rates))


def what_it_draws() -> str:
    return (S.what_it_knows() +
            f"; each object may be {', '.join(MOTIONS)} (no phrase: still). 64x64 px, {DEFAULT_FRAMES} frames. "
            "Other words mean nothing to it.")


EXAMPLE_CAPTION = "a red circle on the left moving to the right on a black background"
