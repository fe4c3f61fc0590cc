"""A chain of shots: clip 1 from its prompt, every next one continuing the one before it
(engine.tasks.continue_clip), the measures at every cut and hop (engine.clips.drift), a stitched
preview, and `chain.json` in the output folder, which records the shots, their seeds and clips so
`redo` can make shot K again (a new seed) and re-condition only what follows it: the clips before
K are kept as they are, never rewritten.

A shots file has one shot a line: `prompt | reference image | frames`, the last two optional
(`a red circle moving right`, `a red circle moving up | red.png`, `... | | 16`); blank lines and
lines starting with # are skipped, reference paths are relative to the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.api import ClipRequest, ContinueRequest, to_json
from engine.atomic import write_new, write_text_atomic
from engine.clips import drift
from engine.clips.files import _encode, read_frames
from engine.errors import BadInput
from engine.timeline.encode import FORMATS

MANIFEST = "chain.json"
MAX_SHOTS = 100


@dataclass(frozen=True)
class Shot:
    prompt: str
    reference: str | None = None
    frames: int | None = None


@dataclass(frozen=True)
class Settings:
    """What every shot of a chain shares; `overlap`, `tail_latents` and `correction` as
    ContinueRequest has them. NAIVE below is what chaining tools do, kept for measuring against."""

    model: str | None = None
    motion_adapter: str | None = None
    frames: int | None = None
    steps: int | None = None
    correction: bool = True
    tail_latents: bool = True
    overlap: int | None = None


# naive last-frame chaining: the last frame alone, decoded and encoded again, nothing corrected
NAIVE = {"correction": False, "tail_latents": False, "overlap": 1}


def read_shots(path: str | Path) -> list[Shot]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"The shots file {path.name} cannot be read ({exc}).") from None
    shots = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) > 3 or not fields[0]:
            raise BadInput(f"{path.name} line {number}: a shot is `prompt | reference image | frames`, "
                           f"the prompt first; {line.strip()!r} is not.")
        reference = str((path.parent / fields[1]).resolve()) if len(fields) > 1 and fields[1] else None
        frames = None
        if len(fields) > 2 and fields[2]:
            if not fields[2].isdigit() or int(fields[2]) < 1:
                raise BadInput(f"{path.name} line {number}: the frame count {fields[2]!r} is not a whole number above 0.")
            frames = int(fields[2])
        shots.append(Shot(fields[0], reference, frames))
    if not shots:
        raise BadInput(f"{path.name} has no shots: write one prompt a line.")
    if len(shots) > MAX_SHOTS:
        raise BadInput(f"{path.name} has {len(shots)} shots; a chain takes at most {MAX_SHOTS}, split it.")
    return shots


def request_for(index: int, shot: Shot, settings: Settings, seed: int, out: Path, previous: str | None):
    """The request of shot `index` (0-based): a clip for the first, a continue of `previous` after it."""
    folder = str(out / f"shot-{index + 1:02d}")
    references = (shot.reference,) if shot.reference else ()
    if previous is None:
        return ClipRequest(prompt=shot.prompt, output_dir=folder, model=settings.model,
                           motion_adapter=settings.motion_adapter, frames=shot.frames or settings.frames,
                           steps=settings.steps, seed=seed, identity_references=references)
    # the chain's --frames is the first clip's length; a continuation without its own count follows
    # that clip in its family's step (LTX-Video 25 frames, then 24 new ones: continue_clip)
    return ContinueRequest(clip=previous, prompt=shot.prompt, output_dir=folder, frames=shot.frames, steps=settings.steps,
                           seed=seed, identity_references=references, correction=settings.correction,
                           overlap=settings.overlap, tail_latents=settings.tail_latents)


def run_chain(shots: list[Shot], settings: Settings, seeds: list[int], out: Path,
              run: Callable, kept: list[dict] | None = None) -> dict:
    """Make every shot not in `kept` (the clips, as ClipResult JSON, of the first shots, reused as
    they are) with `run(request) -> ClipResult`; write the preview and the manifest; return
    {"clips", "cuts", "hops", "preview"}."""
    references = [np.asarray(_open(s.reference)) for s in shots if s.reference]  # a bad one is said before any work
    clips = list(kept or [])
    for index in range(len(clips), len(shots)):
        previous = clips[-1]["clip"]["sidecar"] if clips else None
        clips.append(to_json(run(request_for(index, shots[index], settings, seeds[index], out, previous))))
    frames = [read_frames(c["clip"]["master"]) for c in clips]
    measured = drift.chain(frames, references or None)
    preview = write_new(out / "preview.mp4", lambda tmp: _encode(tmp, FORMATS["mp4"], np.concatenate(frames),
                                                                  clips[0]["clip"]["fps"]))
    manifest = {"shots": [to_json(s) for s in shots], "seeds": seeds, "settings": to_json(settings), "clips": clips}
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2))
    return {"clips": clips, "cuts": measured["cuts"], "hops": measured["hops"], "preview": str(preview)}


def redo(out: Path, shot_number: int, new_seed: int, run: Callable) -> dict:
    """Shot `shot_number` (1-based) again with `new_seed`, and every shot after it re-conditioned
    on the new one; the shots before it are reused unchanged (their files are not touched)."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        shots = [Shot(**s) for s in manifest["shots"]]
        seeds, clips = [int(s) for s in manifest["seeds"]], manifest["clips"]
        settings = Settings(**manifest["settings"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{out} holds no chain to redo ({MANIFEST}: {exc}); make the chain with --shots first.") from None
    if not 1 <= shot_number <= len(shots):
        raise BadInput(f"The chain in {out.name} has shots 1 to {len(shots)}; there is no shot {shot_number} to redo.")
    seeds = seeds[: shot_number - 1] + [new_seed] + seeds[shot_number:]
    return run_chain(shots, settings, seeds, out, run, kept=clips[: shot_number - 1])


def _open(path: str):
    from engine.clips.identity import load_references

    return load_references([path])[0]


def with_seeds(count: int, seed: int) -> list[int]:
    """Shot i's seed: `seed` + i, so one seed names the whole chain."""
    return [seed + i for i in range(count)]
