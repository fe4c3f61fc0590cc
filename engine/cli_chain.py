"""`latent-studio continue` and `latent-studio chain` (engine.cli registers them).

    continue CLIP --prompt TEXT [--from-frame N] [--reference IMG ...] [--ip-adapter DIR] [--no-correction]
             [--frames N] [--steps N] [--seed N] --out DIR [--json]
    chain --shots FILE [--model ID] [--motion-adapter ID] [--frames N] [--steps N] [--seed N]
          [--no-correction] [--redo K] --out DIR [--json]

`continue` prints the new clip as `clip --json` does, with "cut": the measures at the cut from the
clip it continues (engine.clips.drift). `chain` prints {"clips": [each as `clip --json`], "cuts":
[measures at each cut], "hops": [identity and drift of each clip], "preview"}; `--redo K` makes
shot K again with a new seed (or --seed) and re-conditions the shots after it, reusing the clips
before it unchanged.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable


def add_parsers(sub) -> None:
    from engine.cli import _add_json as add_json  # engine.cli is loaded: it is calling us

    cont = sub.add_parser("continue", help="the next clip of a film, starting where a clip ends (or at --from-frame)")
    cont.add_argument("clip", help="the clip to continue: its .clip.json sidecar, .mp4 preview or master")
    cont.add_argument("--prompt", required=True)
    cont.add_argument("--negative", default="")
    cont.add_argument("--from-frame", type=int, default=None, help="continue from this frame (0-based), not the end")
    cont.add_argument("--reference", action="append", default=[], metavar="IMG",
                      help="an identity reference image (repeatable): the clip keeps to its look")
    cont.add_argument("--overlap", type=int, default=None, help="how many frames of the clip the new one starts from")
    cont.add_argument("--ip-adapter", default=None, metavar="DIR",
                      help="an IP-Adapter folder (AnimateDiff): the first --reference steers the denoiser too")
    cont.add_argument("--trust-pickle", action="store_true", help="allow pickled weights you trust")
    _add_shared(cont)
    add_json(cont)

    chain = sub.add_parser("chain", help="a chain of shots, each continuing the one before, measured at every cut")
    chain.add_argument("--shots", default=None, help="one shot a line: prompt | reference image | frames")
    chain.add_argument("--model", default=None)
    chain.add_argument("--motion-adapter", default=None)
    chain.add_argument("--redo", type=int, default=None, metavar="K",
                       help="make shot K of the chain in --out again (new seed) and re-condition what follows")
    _add_shared(chain)
    add_json(chain)


def _add_shared(parser) -> None:
    parser.add_argument("--frames", type=int, default=None,
                        help="the first clip's frames (default: the model's); each continuation makes as many new ones, "
                             "in its family's step (LTX-Video 8k, Wan 4k), unless its shot line gives a count")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None, help="random when omitted")
    parser.add_argument("--no-correction", action="store_true",
                        help="leave colours uncorrected (to measure the drift the correction removes)")
    parser.add_argument("--out", required=True)


def _seed(args) -> int:
    from engine.grid import random_seed

    return random_seed() if args.seed is None else args.seed


def cmd_continue(args) -> dict:
    from engine.api import ContinueRequest
    from engine.cli import _out_dir
    from engine.clips.continuation import read_source
    from engine.clips.identity import load_references

    references = tuple(str(Path(r).resolve()) for r in args.reference)
    load_references(references)  # a reference that is not an image is said before a model loads
    source = read_source(args.clip, args.from_frame)  # so are a clip without its sidecar and a frame out of range
    request = ContinueRequest(
        clip=str(Path(args.clip).resolve()), prompt=args.prompt, negative_prompt=args.negative,
        output_dir=_out_dir(args.out), from_frame=args.from_frame, overlap=args.overlap, frames=args.frames,
        steps=args.steps, seed=_seed(args), identity_references=references, correction=not args.no_correction,
        ip_adapter=str(Path(args.ip_adapter).resolve()) if args.ip_adapter else None, trust_pickle=args.trust_pickle,
    )
    return _run_continue(request, source, args)


def regenerate_continued(request, args) -> dict:
    """`regenerate` of a continued clip: the continue its sidecar records, again, into --out."""
    from dataclasses import replace

    from engine.cli import _out_dir
    from engine.clips.continuation import read_source
    from engine.errors import BadInput
    from engine.validation import check_request

    source = read_source(request.clip, request.from_frame, request.tail_latents)
    request = replace(request, output_dir=_out_dir(args.out), trust_pickle=args.trust_pickle)
    try:
        check_request(request)
    except BadInput as exc:
        raise BadInput(f"{Path(args.image).name} records a continue request that cannot run: {exc}") from None
    return _run_continue(request, source, args)


def _run_continue(request, source, args) -> dict:
    from engine.api import to_json
    from engine.cli import _make_cache, run_job
    from engine.clips import drift
    from engine.clips.files import read_frames

    result = run_job(request, _make_cache(), show_progress=not args.json)
    if not args.json:
        print(f"{result.clip.path}  ({result.clip.frames} frames, continuing {source.name} from frame {source.chosen})")
    return {**to_json(result), "cut": drift.cut(source.frames, read_frames(result.clip.master))}


def cmd_chain(args) -> dict:
    from engine.cli import _make_cache, _out_dir, run_job
    from engine.cli_clip import _model
    from engine.clips import chain
    from engine.errors import BadInput
    from engine.validation import check_output_dir

    out = Path(_out_dir(args.out))
    models = _make_cache()

    def run(request):
        return run_job(request, models, show_progress=not args.json)

    if args.redo is not None:
        if args.shots:
            raise BadInput("--redo remakes a shot of the chain already in --out; leave --shots out.")
        report = chain.redo(out, args.redo, _seed(args), run)
    else:
        if not args.shots:
            raise BadInput("Give the shots with --shots FILE (one a line: prompt | reference image | frames).")
        check_output_dir(str(out))
        shots = chain.read_shots(args.shots)
        settings = chain.Settings(model=_model(args.model), motion_adapter=_model(args.motion_adapter),
                                  frames=args.frames, steps=args.steps, correction=not args.no_correction)
        report = chain.run_chain(shots, settings, chain.with_seeds(len(shots), _seed(args)), out, run)
    if not args.json:
        for number, (clip, cut) in enumerate(zip(report["clips"], [None] + report["cuts"]), 1):
            at_cut = "" if cut is None else f"  cut: ssim {cut['ssim']:.3f} histogram {cut['histogram']:.3f}"
            print(f"shot {number}: {clip['clip']['path']}{at_cut}")
        print(f"preview: {report['preview']}")
    return report


COMMANDS: dict[str, Callable[[argparse.Namespace], dict]] = {"continue": cmd_continue, "chain": cmd_chain}
