"""Evaluate the bundled motion model "toy-scenes-motion" against the motion caption grammar.

    latent-studio eval toy-scenes-motion --json [--samples 42] [--out runs/eval-motion]

Captions are drawn from engine.toy.motion_scenes (one-object captions cycle through the six
motions and "still"; a share are two-object captions with a motion drawn per object), one clip
each at the model's defaults (its latent-studio.json: frames, steps, guidance, scheduler), and every clip is
graded frame by frame by engine.toy.motion_checker. Reported per attribute, with the targets of
issue 14 and the seconds per clip (denoise + decode, loading excluded).

The clips are made by the ordinary clip task (engine.tasks.clip), which loads the adapter on its
base through the normal loader, with the adapter folder's own text encoder and tokenizer.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from engine.toy import motion_scenes as M
from engine.toy.motion_checker import ClipCheck, check_clip

TARGETS = {
    "single_motion": 0.8,  # one-object captions with a motion: it moves the named way
    "colour_frames": 0.95,  # frames in which every object keeps its colour
    "single_still": 0.8,  # one-object captions with no motion phrase: it stays
    "two_both_motion": 0.5,  # two-object captions: each object moves (or stays) as named
}
P_TWO = 0.3

Progress = Callable[[str, int, int], None]


def make_clip(models, model_id: str, prompt: str, seed: int, out_dir: str | Path, **fields) -> tuple[np.ndarray, float]:
    """One clip through the ordinary clip task at the model's defaults: (frames x H x W x 3 uint8,
    seconds of denoise + decode)."""
    from engine.api import ClipRequest
    from engine.clips.files import read_frames
    from engine.jobs import JobContext
    from engine.tasks import clip

    request = ClipRequest(prompt=prompt, output_dir=str(out_dir), model=model_id, seed=seed, **fields)
    result = clip.run(request, JobContext(0, model_cache=models))
    return read_frames(result.clip.master), result.seconds  # the lossless master, frame for frame


def sample_captions(rng: np.random.Generator, count: int, p_two: float = P_TWO) -> list[str]:
    """`count` captions; the one-object ones cycle through the motions and "still" (balanced)."""
    kinds = [*M.MOTIONS, None]
    out, single = [], 0
    for _ in range(count):
        if rng.random() < p_two:
            out.append(M.motion_caption(M.sample_clip(rng, p_two=1.0)))
            continue
        scene = M.S.sample_scene(rng, p_two=0.0)
        motion = kinds[single % len(kinds)]
        single += 1
        out.append(M.motion_caption(M.MotionClip(scene, (motion,), (M.canonical_rate(motion),))))
    return out


def _rate(values) -> float | None:
    values = [bool(v) for v in values]
    return round(float(np.mean(values)), 4) if values else None


def summarise(rows: list[tuple[str, ClipCheck]]) -> dict:
    """Per-attribute rates over checked clips (caption, check)."""
    single = [(c, r) for c, r in rows if len(r.objects) == 1]
    two = [(c, r) for c, r in rows if len(r.objects) == 2]
    moving = [r for _, r in single if r.objects[0].motion]
    frames = sum(o.frames for _, r in rows for o in r.objects)
    by_motion = {m: _rate(r.objects[0].motion_ok for _, r in single if r.objects[0].motion == m)
                 for m in [*M.MOTIONS, None]}
    return {
        "single": {
            "motion": _rate(r.objects[0].motion_ok for r in moving),
            "still": by_motion.pop(None),
            "by_motion": by_motion,
            "first_frame": _rate(r.first_frame_ok for _, r in single),
            "flicker_free": _rate(r.flicker_ok for _, r in single),
        },
        "two": {
            "both_motion": _rate(r.all_motion_ok for _, r in two),
            "each_object_motion": _rate(o.motion_ok for _, r in two for o in r.objects),
            "first_frame": _rate(r.first_frame_ok for _, r in two),
            "flicker_free": _rate(r.flicker_ok for _, r in two),
        },
        "colour_frames": round(sum(o.colour_frames for _, r in rows for o in r.objects) / frames, 4) if frames else None,
        "shape_frames": round(sum(o.shape_frames for _, r in rows for o in r.objects) / frames, 4) if frames else None,
        "samples": {"single": len(single), "single_moving": len(moving), "two": len(two)},
    }


def meets(acc: dict) -> dict:
    values = {"single_motion": acc["single"]["motion"], "colour_frames": acc["colour_frames"],
              "single_still": acc["single"]["still"], "two_both_motion": acc["two"]["both_motion"]}
    return {k: None if v is None else bool(v >= TARGETS[k]) for k, v in values.items()}


def evaluate(models, model_id: str = "toy-scenes-motion", samples: int = 42, seed: int = 0,
             out_dir: str | Path | None = None, progress: Progress | None = None) -> dict:
    """Make one clip per sampled caption with `model_id` (the clip task, model defaults), check
    each frame by frame, report per attribute."""
    captions = sample_captions(np.random.default_rng(seed), samples)
    rows, clips, seconds = [], [], []
    with tempfile.TemporaryDirectory(prefix="latent-studio-eval-") as scratch:
        for index, text in enumerate(captions):
            frames, took = make_clip(models, model_id, text, seed + index, Path(scratch) / str(index))
            seconds.append(took)
            rows.append((text, check_clip(frames, text)))
            clips.append(frames)
            if progress:
                progress("clips", index + 1, len(captions))
    acc = summarise(rows)
    report = {"model": model_id, "seed": seed, "samples": acc.pop("samples"), "accuracy": acc,
              "targets": TARGETS, "meets_targets": meets(acc),
              "seconds_per_clip": round(float(np.median(seconds)), 3) if seconds else None,
              "contact_sheet": None}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out / "clips.npz", clips=np.stack(clips), captions=np.array(captions))
        (out / "checks.json").write_text(json.dumps([{"caption": c, **r.to_json()} for c, r in rows], indent=1),
                                         encoding="utf-8")
        report["contact_sheet"] = str(write_clip_sheet(captions, clips, [r for _, r in rows], out / "contact-sheet.png"))
    return report


def _verdict(check: ClipCheck) -> tuple[str, bool]:
    wrong = [f"motion{i + 1 if len(check.objects) > 1 else ''}" for i, o in enumerate(check.objects) if not o.motion_ok]
    wrong += [] if check.first_frame_ok else ["first frame"]
    wrong += [] if check.flicker_ok else ["flicker"]
    wrong += [f"colour{i + 1}" for i, o in enumerate(check.objects) if o.colour_frames < o.frames]
    return ("right" if not wrong else "wrong: " + ", ".join(wrong)), not wrong


def write_clip_sheet(captions, clips, checks=None, path="contact-sheet.png", limit: int = 24, scale: int = 2) -> Path:
    """One row per clip: its frames left to right, its caption and the checker's verdict above."""
    import cv2

    captions, clips = list(captions)[:limit], list(clips)[:limit]
    frames, size = clips[0].shape[0], clips[0].shape[1] * scale
    text_h, gap = 16, 6
    row_h = size + text_h + gap
    sheet = np.full((len(clips) * row_h, frames * (size + 2), 3), 255, np.uint8)
    for k, (text, clip) in enumerate(zip(captions, clips)):
        y = k * row_h
        verdict, good = _verdict(checks[k]) if checks else ("", True)
        cv2.putText(sheet, f"{text}   [{verdict}]" if verdict else text, (2, y + 12), cv2.FONT_HERSHEY_SIMPLEX,
                    0.36, (0, 110, 0) if good else (190, 0, 0), 1, cv2.LINE_AA)
        for f in range(frames):
            tile = cv2.resize(clip[f], (size, size), interpolation=cv2.INTER_NEAREST)
            sheet[y + text_h:y + text_h + size, f * (size + 2):f * (size + 2) + size] = tile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


def write_gif(clips, path, columns: int = 4, scale: int = 2, fps: int = 8) -> Path:
    """Clips side by side (a grid, `columns` wide) as one looping animated GIF."""
    import cv2
    import imageio.v3 as iio

    clips = [np.stack([cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) for f in c])
             for c in clips]
    while len(clips) % columns:
        clips.append(np.full_like(clips[0], 255))
    rows = [np.concatenate(clips[i:i + columns], axis=2) for i in range(0, len(clips), columns)]
    video = np.concatenate(rows, axis=1)
    path = Path(path)
    iio.imwrite(path, video, duration=1000 / fps, loop=0)
    return path


def print_summary(report: dict) -> None:
    """The report in a few lines, for `latent-studio eval toy-scenes-motion` without --json."""
    acc, n = report["accuracy"], report["samples"]

    def show(value):
        return "  n/a" if value is None else f"{value:5.2f}"

    print(f"{report['model']}, seed {report['seed']}")
    print(f"one object  ({n['single']:3d}): moves as named {show(acc['single']['motion'])}  still "
          f"{show(acc['single']['still'])}  first frame {show(acc['single']['first_frame'])}  no flicker "
          f"{show(acc['single']['flicker_free'])}")
    print("  " + "  ".join(f"{k} {show(v)}" for k, v in acc["single"]["by_motion"].items()))
    print(f"two objects ({n['two']:3d}): both as named {show(acc['two']['both_motion'])}  first frame "
          f"{show(acc['two']['first_frame'])}")
    print(f"colour kept in frames {show(acc['colour_frames'])}  shape kept {show(acc['shape_frames'])}")
    print(f"{report['seconds_per_clip']:.2f} s per clip; targets met: "
          + ", ".join(f"{k} {'n/a' if v is None else 'yes' if v else 'no'}" for k, v in report["meets_targets"].items()))
    if report["contact_sheet"]:
        print(f"contact sheet: {report['contact_sheet']}")
