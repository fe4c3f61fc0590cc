"""Procedural scenes and their captions for the bundled "toy-scenes" model.

A scene is one or two flat shapes on a plain background. Captions follow a fixed grammar:

    one object:  "a [small|large] {colour} {shape} {position} {background}"
    two objects: "a {colour} {shape} {position} and a {colour} {shape} {position} {background}"

Rendering is deterministic: a `Scene` carries its own small variations (offset, scale, rotation,
tint, shading), drawn by `sample_scene` from a numpy Generator, so the same scene always renders
to the same pixels and the model cannot memorise a lookup table of 810 pictures. Shapes are drawn
at 4x and area-downsampled, which antialiases edges without depending on OpenCV's AA line code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 35, 35),
    "orange": (245, 135, 20),
    "yellow": (240, 215, 30),
    "green": (40, 165, 60),
    "blue": (40, 85, 225),
    "purple": (140, 50, 190),
}
SIZES = ("small", "large")  # and None: no size word
POSITIONS = {
    # phrase -> centre as a fraction of the frame (x, y)
    "on the left": (0.25, 0.5),
    "on the right": (0.75, 0.5),
    "at the top": (0.5, 0.25),
    "at the bottom": (0.5, 0.75),
    "in the center": (0.5, 0.5),
}
BACKGROUNDS = {"white": 242, "black": 16, "gray": 128}

# Half-extent of a shape as a fraction of the frame, by size word (None: no word).
_RADIUS = {"small": 0.095, None: 0.14, "large": 0.19}
_RADIUS_TWO = 0.115  # two-object scenes carry no size word and use a smaller shape
_SUPERSAMPLE = 4

VOCABULARY = sorted(
    {"a", "and", "on", "the", "at", "in", "background"}
    | set(SHAPES) | set(COLOURS) | set(SIZES) | set(BACKGROUNDS)
    | {w for phrase in POSITIONS for w in phrase.split()}
)


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    position: str
    size: str | None = None
    # Small per-render variations; zero means "the canonical drawing".
    dx: float = 0.0  # offset from the region centre, fraction of the frame
    dy: float = 0.0
    scale: float = 1.0
    angle: float = 0.0  # degrees, squares and triangles only
    tint: tuple[int, int, int] = (0, 0, 0)  # added to the base colour
    shade: float = 0.0  # brightness gradient strength across the shape
    shade_angle: float = 0.0  # radians, direction of the gradient


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]
    background: str
    background_tint: int = 0
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def caption(scene: Scene) -> str:
    bg = f"on a {scene.background} background"
    if len(scene.objects) == 1:
        o = scene.objects[0]
        size = f"{o.size} " if o.size else ""
        return f"a {size}{o.colour} {o.shape} {o.position} {bg}"
    if len(scene.objects) == 2:
        a, b = scene.objects
        return f"a {a.colour} {a.shape} {a.position} and a {b.colour} {b.shape} {b.position} {bg}"
    raise ValueError("a toy scene holds one or two objects")


def what_it_knows() -> str:
    """The words of the grammar, as the start of a sentence (the motion model's says more)."""
    return (f"Knows one or two shapes ({', '.join(SHAPES)}) in colours ({', '.join(COLOURS)}), "
            f"positions ({', '.join(POSITIONS)}), sizes ({', '.join(SIZES)}) and backgrounds "
            f"({', '.join(BACKGROUNDS)})")


def what_it_draws() -> str:
    """The grammar in one sentence for people choosing a model: what a toy-scenes prompt may say."""
    return f"{what_it_knows()}; 64x64 px. Other words mean nothing to it."


EXAMPLE_CAPTION = caption(Scene((SceneObject("circle", "red", "on the left", "large"),), "black"))


_POS_RE = "|".join(re.escape(p) for p in POSITIONS)
_COL_RE = "|".join(COLOURS)
_SHAPE_RE = "|".join(SHAPES)
_OBJ_RE = rf"a (?:(?P<size{{i}}>small|large) )?(?P<colour{{i}}>{_COL_RE}) (?P<shape{{i}}>{_SHAPE_RE}) (?P<pos{{i}}>{_POS_RE})"
_BG_RE = rf"on a (?P<bg>{'|'.join(BACKGROUNDS)}) background"
_ONE = re.compile(rf"^{_OBJ_RE.format(i=0)} {_BG_RE}$")
_TWO = re.compile(
    rf"^{_OBJ_RE.format(i=0).replace('(?:(?P<size0>small|large) )?', '')} and "
    rf"{_OBJ_RE.format(i=1).replace('(?:(?P<size1>small|large) )?', '')} {_BG_RE}$"
)


def parse_caption(text: str) -> Scene:
    """The canonical scene a caption describes; ValueError for text outside the grammar."""
    norm = " ".join(text.lower().strip().rstrip(".").split())
    match = _ONE.match(norm)
    if match:
        obj = SceneObject(match["shape0"], match["colour0"], match["pos0"], match["size0"])
        return Scene((obj,), match["bg"])
    match = _TWO.match(norm)
    if match:
        objs = tuple(SceneObject(match[f"shape{i}"], match[f"colour{i}"], match[f"pos{i}"]) for i in (0, 1))
        if objs[0].position == objs[1].position:
            raise ValueError(f"both objects of {text!r} are {objs[0].position}")
        return Scene(objs, match["bg"])
    raise ValueError(f"{text!r} is not a toy-scenes caption")


def _vary(rng: np.random.Generator, obj: SceneObject, two: bool) -> SceneObject:
    jitter = 0.035 if two else 0.045
    return SceneObject(
        obj.shape, obj.colour, obj.position, obj.size,
        dx=float(rng.uniform(-jitter, jitter)), dy=float(rng.uniform(-jitter, jitter)),
        scale=float(rng.uniform(0.88, 1.12)),
        angle=float(rng.uniform(-12, 12)),
        tint=tuple(int(v) for v in rng.integers(-14, 15, size=3)),
        shade=float(rng.uniform(0.0, 0.22)), shade_angle=float(rng.uniform(0, 2 * math.pi)),
    )


def sample_scene(rng: np.random.Generator, p_two: float = 0.4) -> Scene:
    """A random scene with random small variations (40% two-object scenes by default)."""
    background = str(rng.choice(list(BACKGROUNDS)))
    positions = list(POSITIONS)
    if rng.random() < p_two:
        pos = rng.choice(len(positions), size=2, replace=False)
        objs = tuple(
            _vary(rng, SceneObject(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))), positions[p]), True)
            for p in pos
        )
    else:
        size_choice = int(rng.integers(0, 3))
        size = (None, "small", "large")[size_choice]
        obj = SceneObject(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))),
                          positions[int(rng.integers(0, 5))], size)
        objs = (_vary(rng, obj, False),)
    return Scene(objs, background, background_tint=int(rng.integers(-10, 11)))


def _outline(obj: SceneObject, radius: float, cx: float, cy: float) -> np.ndarray | None:
    """Polygon points (float, pixels) for squares and triangles; None for circles."""
    theta = math.radians(obj.angle)
    if obj.shape == "square":
        half = radius * 0.88
        corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
    elif obj.shape == "triangle":
        r = radius * 1.18  # circumradius; an upright triangle, centred on its centroid
        corners = [(r * math.cos(a), r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
        corners = [(x, y - r * 0.1) for x, y in corners]
    else:
        return None
    c, s = math.cos(theta), math.sin(theta)
    return np.array([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners], dtype=np.float64)


def _mask(obj: SceneObject, size: int, two: bool) -> tuple[np.ndarray, float, float, float]:
    ss = size * _SUPERSAMPLE
    fx, fy = POSITIONS[obj.position]
    cx, cy = (fx + obj.dx) * ss, (fy + obj.dy) * ss
    radius = (_RADIUS_TWO if two else _RADIUS[obj.size]) * obj.scale * ss
    canvas = np.zeros((ss, ss), dtype=np.uint8)
    shift = 4  # sub-pixel coordinates for OpenCV
    points = _outline(obj, radius, cx, cy)
    if points is None:
        cv2.circle(canvas, (int(round(cx * 16)), int(round(cy * 16))), int(round(radius * 16)), 255, -1,
                   lineType=cv2.LINE_AA, shift=shift)
    else:
        cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=shift)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return small, cx / _SUPERSAMPLE, cy / _SUPERSAMPLE, radius / _SUPERSAMPLE


def render(scene: Scene, size: int = 64) -> np.ndarray:
    """The scene as a size x size x 3 uint8 RGB image."""
    bg_value = float(np.clip(BACKGROUNDS[scene.background] + scene.background_tint, 0, 255))
    image = np.full((size, size, 3), bg_value, dtype=np.float32)
    two = len(scene.objects) == 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    for obj in scene.objects:
        alpha, cx, cy, radius = _mask(obj, size, two)
        base = np.clip(np.array(COLOURS[obj.colour], dtype=np.float32) + np.array(obj.tint, dtype=np.float32), 0, 255)
        # A soft linear light across the shape: brighter on one side, darker on the other.
        proj = ((xs - cx) * math.cos(obj.shade_angle) + (ys - cy) * math.sin(obj.shade_angle)) / max(radius, 1.0)
        gain = 1.0 + obj.shade * np.clip(proj, -1.0, 1.0)
        colour = np.clip(base[None, None, :] * gain[..., None], 0, 255)
        a = alpha[..., None]
        image = image * (1.0 - a) + colour * a
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def render_batch(rng: np.random.Generator, count: int, size: int = 64, p_two: float = 0.4):
    """`count` random scenes: (N x size x size x 3 uint8 images, captions, scenes)."""
    scenes = [sample_scene(rng, p_two) for _ in range(count)]
    images = np.stack([render(s, size) for s in scenes])
    return images, [caption(s) for s in scenes], scenes


def region_box(position: str, size: int = 64) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the square region a position word names, for checks."""
    fx, fy = POSITIONS[position]
    half = size // 4
    cx, cy = int(fx * size), int(fy * size)
    return cx - half, cy - half, cx + half, cy + half


def nearest_colour(rgb) -> str:
    rgb = np.asarray(rgb, dtype=np.float32)
    names = list(COLOURS)
    dists = [float(np.sum((rgb - np.array(COLOURS[n], dtype=np.float32)) ** 2)) for n in names]
    return names[int(np.argmin(dists))]


def dominant_object(image: np.ndarray, background: str) -> tuple[str | None, str | None]:
    """(colour name, position phrase) of the strongest non-background blob; (None, None) if none.

    Cheap heuristic used by the self-check: saturated pixels away from the (grey) background
    count as object pixels; their mean colour and centroid decide.
    """
    img = image.astype(np.float32)
    bg = float(BACKGROUNDS[background])
    sat = img.max(axis=2) - img.min(axis=2)
    mask = (sat > 60) & (np.abs(img - bg).max(axis=2) > 40)
    if mask.sum() < 6:
        return None, None
    colour = nearest_colour(img[mask].mean(axis=0))
    ys, xs = np.nonzero(mask)
    size = image.shape[0]
    cx, cy = xs.mean() / size, ys.mean() / size
    position = min(POSITIONS, key=lambda p: (POSITIONS[p][0] - cx) ** 2 + (POSITIONS[p][1] - cy) ** 2)
    return colour, position
