"""The `latent-studio clip` subcommand, and `regenerate` for clips (engine.cli dispatches to it
by file type: a clip's sidecar or preview, where an image is a PNG).

    clip --prompt TEXT [--model ID] [--motion-adapter ID] [--image IMG [--strength S]] [--mask MASK]
         [--loop] [--frames N] [--fps F] [--width W] [--height H] [--steps N] [--seed N] --out DIR [--json]

Prints {"clip": {"path", "master", "sidecar", "latents", "frames", "fps", "width", "height", "seed"},
"model", "seconds"}; errors take engine.cli's way out.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Callable

CLIP_SUFFIXES = (".clip.json", ".mp4", ".master.mkv")


def add_parsers(sub) -> None:
    from engine.cli import _add_json as add_json  # engine.cli is loaded: it is calling us

    clip = sub.add_parser("clip", help="a short clip from a prompt or an image; a cinemagraph with --mask")
    clip.add_argument("--prompt", required=True)
    clip.add_argument("--negative", default="")
    clip.add_argument("--model", default=None,
                      help="clip model (AnimateDiff, SVD, LTX-Video, Wan), or the SD 1.x base of --motion-adapter")
    clip.add_argument("--motion-adapter", default=None, help="an AnimateDiff motion adapter to run on --model")
    clip.add_argument("--image", default=None, help="start from this image (image to clip; the still of --mask)")
    clip.add_argument("--strength", type=float, default=0.6, help="how far the clip may move from --image")
    clip.add_argument("--mask", default=None, help="cinemagraph: only the white region of this mask moves")
    clip.add_argument("--feather", type=int, default=4, help="mask edge blend, pixels inside the mask")
    clip.add_argument("--loop", action="store_true", help="make the clip loop seamlessly")
    clip.add_argument("--frames", type=int, default=None)
    clip.add_argument("--fps", type=int, default=None)
    clip.add_argument("--width", type=int, default=None)
    clip.add_argument("--height", type=int, default=None)
    clip.add_argument("--steps", type=int, default=None)
    clip.add_argument("--guidance", type=float, default=None)
    clip.add_argument("--scheduler", default=None)
    clip.add_argument("--seed", type=int, default=None, help="random when omitted")
    clip.add_argument("--trust-pickle", action="store_true", help="allow pickled weights you trust")
    clip.add_argument("--out", required=True)
    add_json(clip)


def _path(text: str | None) -> str | None:
    return str(Path(text).resolve()) if text else None


def cmd_clip(args) -> dict:
    from engine.api import ClipRequest
    from engine.cli import _make_cache, _out_dir
    from engine.grid import random_seed

    request = ClipRequest(
        prompt=args.prompt, negative_prompt=args.negative, output_dir=_out_dir(args.out),
        model=_model(args.model), motion_adapter=_model(args.motion_adapter), init_image=_path(args.image),
        strength=args.strength, mask=_path(args.mask), feather=args.feather, loop=args.loop, frames=args.frames,
        fps=args.fps, width=args.width, height=args.height, steps=args.steps, guidance=args.guidance,
        scheduler=args.scheduler, seed=random_seed() if args.seed is None else args.seed,
        trust_pickle=args.trust_pickle,
    )
    return _run(request, _make_cache(), args)


def _model(text: str | None) -> str | None:
    """A model that names an existing folder is passed on as its absolute path (the job may run
    from elsewhere); ids and repo ids as given."""
    return str(Path(text).resolve()) if text and Path(text).exists() else text


def is_clip_file(path: str) -> bool:
    return path.endswith(CLIP_SUFFIXES)


def regenerate_clip(args) -> dict:
    """`regenerate` for a clip: its sidecar's request again, into --out."""
    from engine.cli import _make_cache, _out_dir
    from engine.clips.files import read_clip_request
    from engine.errors import BadInput
    from engine.validation import check_request

    from engine.cli_chain import regenerate_continued
    from engine.clips.continuation import recorded_request
    from engine.clips.files import sidecar_of

    continued = recorded_request(sidecar_of(args.image))
    if continued is not None:  # a continued clip records how it continued its clip: continue that again
        return regenerate_continued(continued, args)
    request = read_clip_request(args.image)
    # only this command line may vouch for pickled weights, never the sidecar
    request = replace(request, output_dir=_out_dir(args.out), trust_pickle=args.trust_pickle)
    try:
        check_request(request)
    except BadInput as exc:
        raise BadInput(f"{Path(args.image).name} records a clip request that cannot run: {exc}") from None
    return _run(request, _make_cache(), args)


def _run(request, models, args) -> dict:
    from engine.api import to_json
    from engine.cli import run_job
    from engine.tasks.clip import resolve_model

    resolve_model(request, models.registry)  # a missing or wrong model is said before any job starts
    result = run_job(request, models, show_progress=not args.json)
    if not args.json:
        print(f"{result.clip.path}  ({result.clip.frames} frames at {result.clip.fps} fps, master "
              f"{Path(result.clip.master).name}, seed {result.clip.seed})")
    return to_json(result)


COMMANDS: dict[str, Callable[[argparse.Namespace], dict]] = {"clip": cmd_clip}
