"""Measures of a chain of clips: continuity at every cut, identity to the references, and the
drift of each hop's look against hop 1 (design, section 7). Frames are F x H x W x 3 uint8.

At a cut (the last frame of clip k against the first of clip k+1):
    ssim            metrics.ssim_map averaged over the frame (1: the same frame)
    histogram       correlation of the two frames' colour histograms (32 bins per RGB channel,
                    cv2.HISTCMP_CORREL, channels averaged; 1: the same colours)
    jump            how far the main object moved across the cut, in pixels, and
    motion          its median frame-to-frame step inside the two clips, so a cut that moves it
                    no more than the clips themselves do reads as continuous. The main object is
                    the region that differs from the frame's border colour (the toy scenes' one
                    object on a plain background); None where no frame has one.
Identity of a clip to references:
    colour          mean over frames of the histogram correlation with the references' pixels
    clip            mean cosine of CLIP image embeddings of frames and references, where a CLIP
                    model is given (the bundled scorer's vision tower works offline)
Look of a clip (drift compares each hop's with hop 1's):
    mean_colour     mean RGB, 0-255;  contrast: std of luma;  sharpness: mean |Laplacian| of luma
"""

from __future__ import annotations

import numpy as np

from engine import metrics

HISTOGRAM_BINS = 32
OBJECT_THRESHOLD = 40  # 0-255: a pixel this far from the border colour (in any channel) is the object's
MIN_OBJECT_PIXELS = 4


def histogram_correlation(a, b) -> float:
    import cv2

    def histograms(pixels):
        pixels = np.ascontiguousarray(np.asarray(pixels, np.uint8).reshape(-1, 1, 3))
        return [cv2.calcHist([pixels], [c], None, [HISTOGRAM_BINS], [0, 256]) for c in range(3)]

    pairs = zip(histograms(a), histograms(b))
    return float(np.mean([cv2.compareHist(x, y, cv2.HISTCMP_CORREL) for x, y in pairs]))


def object_centre(frame: np.ndarray):
    """(x, y) centroid of the pixels unlike the frame's border colour, or None where too few are."""
    frame = np.asarray(frame, np.int16)
    border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
    background = np.median(border, axis=0)
    ys, xs = np.nonzero(np.abs(frame - background).max(axis=2) > OBJECT_THRESHOLD)
    if len(xs) < MIN_OBJECT_PIXELS:
        return None
    return float(xs.mean()), float(ys.mean())


def _distance(a, b) -> float | None:
    return None if a is None or b is None else float(np.hypot(a[0] - b[0], a[1] - b[1]))


def median_motion(frames: np.ndarray) -> float | None:
    centres = [object_centre(f) for f in frames]
    steps = [d for d in (_distance(a, b) for a, b in zip(centres, centres[1:])) if d is not None]
    return float(np.median(steps)) if steps else None


def cut(before: np.ndarray, after: np.ndarray) -> dict:
    """The continuity measures at the cut from clip `before` to clip `after`."""
    last, first = before[-1], after[0]
    motions = [m for m in (median_motion(before), median_motion(after)) if m is not None]
    return {
        "ssim": float(metrics.ssim_map(last, first).mean()),
        "histogram": histogram_correlation(last, first),
        "jump": _distance(object_centre(last), object_centre(first)),
        "motion": float(np.mean(motions)) if motions else None,
    }


def cut_between(last_frame: np.ndarray, first_frame: np.ndarray, references=None) -> dict:
    """The measures at one cut from its two frames alone (the timeline's cut badges): `cut`'s (motion
    is None: one frame a side has none), and where the clip after the cut has identity `references`,
    `identity`'s colour score of its first frame to them ("identity"; None without references), and
    how many there are."""
    measured = cut(np.asarray(last_frame)[None], np.asarray(first_frame)[None])
    scores = identity(np.asarray(first_frame)[None], references) if references else None
    measured["identity"] = scores["colour"] if scores else None
    measured["references"] = len(references) if references else 0
    return measured


def look(frames: np.ndarray) -> dict:
    import cv2

    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)
    sharpness = np.mean([np.abs(cv2.Laplacian(l, cv2.CV_32F)).mean() for l in luma])
    return {"mean_colour": [float(v) for v in frames.reshape(-1, 3).mean(axis=0)],
            "contrast": float(luma.std()), "sharpness": float(sharpness)}


def drift(first: dict, hop: dict) -> dict:
    """How far a hop's look (`look`) is from hop 1's: colour distance (0-255 RGB), contrast and sharpness ratios."""
    colour = float(np.linalg.norm(np.subtract(hop["mean_colour"], first["mean_colour"])))
    ratio = lambda key: hop[key] / first[key] if first[key] else None  # noqa: E731
    return {"colour": colour, "contrast": ratio("contrast"), "sharpness": ratio("sharpness")}


def colour_identity(frames: np.ndarray, references) -> float:
    """Mean over frames of the colour-histogram correlation with all the references' pixels."""
    pixels = np.concatenate([np.asarray(r, np.uint8).reshape(-1, 3) for r in references])
    return float(np.mean([histogram_correlation(frame, pixels) for frame in frames]))


def clip_identity(frames: np.ndarray, references, scorer) -> float:
    """Mean cosine of the CLIP image embeddings of the frames with the references' (engine.scoring)."""
    from PIL import Image

    to_images = lambda arrays: [Image.fromarray(np.asarray(a, np.uint8)) for a in arrays]  # noqa: E731
    embedded = scorer.image_embeddings(to_images(frames))
    anchors = scorer.image_embeddings(to_images(references))
    return float((embedded @ anchors.T).mean())


def identity(frames: np.ndarray, references, scorer=None) -> dict:
    measured = {"colour": colour_identity(frames, references), "clip": None}
    if scorer is not None:
        measured["clip"] = clip_identity(frames, references, scorer)
    return measured


def chain(clips: list[np.ndarray], references: list | None = None, scorer=None) -> dict:
    """Every measure of a chain: {"cuts": [cut k -> k+1], "hops": [identity and drift of each clip]}.
    Without references, identity is to hop 1's first frame (what the chain should keep)."""
    references = references or [clips[0][0]]
    first = look(clips[0])
    hops = []
    for frames in clips:
        seen = look(frames)
        hops.append({"identity": identity(frames, references, scorer), "look": seen, "drift": drift(first, seen)})
    return {"cuts": [cut(a, b) for a, b in zip(clips, clips[1:])], "hops": hops}
