"""The `latent-studio` command line.

Every subcommand takes `--json` and then prints exactly one JSON object on stdout; errors
exit non-zero with one line on stderr (and {"error": ...} on stdout with --json). Work runs
through the same JobQueue the app uses, so the command line and the window behave alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from engine import __version__
from engine.api import to_json
from engine.cli_chain import COMMANDS as CHAIN_COMMANDS, add_parsers as add_chain_parsers
from engine.cli_clip import COMMANDS as CLIP_COMMANDS, add_parsers as add_clip_parsers
from engine.cli_timeline import COMMANDS as TIMELINE_COMMANDS, add_parsers as add_timeline_parsers
from engine.errors import StudioError
from engine.grid import random_seed

DEMO_PROMPTS = (
    "a large red circle on the left on a black background",
    "a blue square at the top on a white background",
    "a yellow triangle in the center on a gray background",
    "a green circle on the left and a purple square on the right on a white background",
)


class CommandFailed(Exception):
    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind


class _Parser(argparse.ArgumentParser):
    """Argument errors take the same way out as every other error (one line, and JSON with --json),
    instead of argparse's usage text and exit 2 with nothing on stdout."""

    def error(self, message: str):
        raise CommandFailed(f"{message} (see `{self.prog} --help`)", "bad_input")


def parse_pair(text: str, what: str, example: str, unit: str) -> tuple[int, int]:
    """'AxB' as two whole numbers of at least 1: a grid (ROWSxCOLS) or a size (WIDTHxHEIGHT)."""
    try:
        first, second = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must look like {example}, got {text!r}") from None
    if first < 1 or second < 1:
        raise argparse.ArgumentTypeError(f"{what} needs at least 1x1 {unit}, got {text!r}")
    return first, second


def _parse_grid(text: str) -> tuple[int, int]:
    return parse_pair(text, "grid", "4x4 (ROWSxCOLS)", "cells")


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _add_any_size(parser: argparse.ArgumentParser) -> None:
    from engine.limits import MAX_PIXELS, NATIVE_REFUSE

    parser.add_argument("--any-size", action="store_true",
                        help=f"allow sizes more than {NATIVE_REFUSE}x the model's native size a side "
                             f"(still at most {MAX_PIXELS // 1_000_000} megapixels)")


def _image_file(text: str) -> str:
    """An input image as an absolute path, its header read now (missing, unreadable, too large), so
    a bad file is named before a model loads rather than after."""
    from engine.images import open_image

    with open_image(text):
        pass
    return str(Path(text).resolve())


def _out_dir(text: str) -> str:
    """--out as an absolute folder; an empty one would silently mean the current folder."""
    from engine.errors import BadInput

    if not text.strip():
        raise BadInput("--out is empty; name the folder to write results into.")
    return str(Path(text).resolve())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(  # subcommand parsers inherit the class
        prog="latent-studio", description="Latent Studio: generate, resample and arrange images and clips."
    )
    parser.add_argument("--version", action="version", version=f"latent-studio {__version__}")
    sub = parser.add_subparsers(dest="command")

    models = sub.add_parser("models", help="list the models this machine has")
    models_sub = models.add_subparsers(dest="models_command")
    listing = models_sub.add_parser("list", help="bundled models, local folders and the Hugging Face cache")
    listing.add_argument("--models-dir", action="append", default=[], help="an extra folder of models")
    _add_json(listing)

    gen = sub.add_parser("generate", help="text-to-image (or image-to-image with --init-image)")
    gen.add_argument("--model", default=None, help="bundled id, diffusers folder, .safetensors file or cached repo id")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--negative", default="")
    gen.add_argument("--seed", type=int, default=None, help="random when omitted")
    gen.add_argument("--count", type=int, default=1)
    gen.add_argument("--steps", type=int, default=None)
    gen.add_argument("--guidance", type=float, default=None)
    gen.add_argument("--scheduler", default=None)
    gen.add_argument("--width", type=int, default=None)
    gen.add_argument("--height", type=int, default=None)
    gen.add_argument("--grid", type=_parse_grid, default=(4, 4), metavar="ROWSxCOLS")
    gen.add_argument("--init-image", default=None)
    gen.add_argument("--strength", type=float, default=0.6)
    gen.add_argument("--rerank", action="store_true", help="score candidates with the CLIP scorer, best first")
    gen.add_argument("--scorer", default=None, help="CLIP scorer model (default: the bundled one)")
    gen.add_argument("--trust-pickle", action="store_true", help="allow a pickled .ckpt checkpoint you trust")
    _add_any_size(gen)
    gen.add_argument("--out", required=True)
    _add_json(gen)

    regen = sub.add_parser("regenerate", help="make an image (its PNG) or a clip (its sidecar or preview) again")
    regen.add_argument("image")
    regen.add_argument("--out", required=True)
    regen.add_argument("--trust-pickle", action="store_true", help="allow a pickled .ckpt model you trust")
    _add_any_size(regen)
    _add_json(regen)

    resample = sub.add_parser("resample", help="re-roll one block of the latent grid")
    _add_block_options(resample, block_required=True)
    resample.add_argument("--count", type=int, default=4)
    resample.add_argument("--radius", type=float, default=None, help="fall-off radius in pixels (default: a block width)")
    resample.add_argument("--strength", type=float, default=None)
    resample.add_argument("--context", choices=("window", "full"), default="window")
    _add_json(resample)

    inpaint = sub.add_parser("inpaint", help="inpaint a block or a mask (the baseline resampling is compared with)")
    _add_block_options(inpaint, block_required=False)
    inpaint.add_argument("--mask", default=None, help="mask image, white = repaint; same size as the image")
    inpaint.add_argument("--prompt", default=None, help="default: the prompt recorded in the image")
    inpaint.add_argument("--count", type=int, default=1)
    _add_json(inpaint)

    compare = sub.add_parser("compare", help="resample and inpaint the same block, measured alike")
    _add_block_options(compare, block_required=True)
    compare.add_argument("--radius", type=float, default=None)
    compare.add_argument("--context", choices=("window", "full"), default="full")
    _add_json(compare)

    demo = sub.add_parser("demo", help="generate a few images with the bundled model and say where they are")
    demo.add_argument("--out", default=None)
    _add_json(demo)

    evaluate = sub.add_parser("eval", help="grade the toy-scenes model and scorer on captions from its grammar")
    evaluate.add_argument("model", nargs="?", default=None, help="image model (default: the bundled toy-scenes)")
    evaluate.add_argument("--scorer", default="toy-scenes-clip", help="CLIP scorer (default: toy-scenes-clip)")
    evaluate.add_argument("--samples", type=int, default=60, help="captions, one image each (default 60)")
    evaluate.add_argument("--scorer-samples", type=int, default=None, help="rendered scenes for scorer top-1 "
                          "(default: --samples)")
    evaluate.add_argument("--rerank-samples", type=int, default=None, help="captions with 8 reranked candidates "
                          "(default: samples / 6)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--out", default=None, help="keep the images, a contact sheet and per-image checks here")
    _add_json(evaluate)
    add_timeline_parsers(sub)  # project, timeline, export, otio
    add_clip_parsers(sub)  # clip
    add_chain_parsers(sub)  # continue, chain
    return parser


def _parse_block(text: str) -> tuple[int, int]:
    try:
        row, col = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"block must look like ROW,COL (from 0 at the top left), got {text!r}") from None
    return row, col


def _add_block_options(parser: argparse.ArgumentParser, block_required: bool) -> None:
    parser.add_argument("image")
    parser.add_argument("--block", type=_parse_block, required=block_required, metavar="ROW,COL")
    parser.add_argument("--grid", type=_parse_grid, default=None, metavar="ROWSxCOLS",
                        help="default: the grid recorded in the image")
    parser.add_argument("--seed", type=int, default=None, help="random when omitted")
    parser.add_argument("--model", default=None, help="default: the model recorded in the image")
    parser.add_argument("--out", required=True)


def _edit_fields(args) -> dict:
    from engine.api import EditSettings

    rows, cols = args.grid if args.grid else (None, None)
    fields = dict(
        image=_image_file(args.image), output_dir=_out_dir(args.out),
        seed=random_seed() if args.seed is None else args.seed, grid_rows=rows, grid_cols=cols,
        settings=EditSettings(model=args.model, prompt=getattr(args, "prompt", None)),
    )
    if args.block is not None:
        fields["row"], fields["col"] = args.block
    return fields


# --- running jobs ------------------------------------------------------------------------


def _make_cache(extra_model_dirs: tuple[str, ...] = ()):
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry

    return ModelCache(ModelRegistry(local_folders=extra_model_dirs))


def run_job(request: Any, models, show_progress: bool) -> Any:
    """Check the request and its output folder, submit it to a fresh queue, wait for it, return
    its result or raise. Everything checkable is checked before a model loads, so a mistake costs
    no time and leaves nothing behind."""
    from engine.events import Progress
    from engine.jobs import JobQueue, JobStatus
    from engine.validation import check_output_dir, check_request

    check_request(request)
    check_output_dir(request.output_dir)
    with JobQueue(model_cache=models) as queue:
        if show_progress:
            queue.subscribe(lambda e: _print_progress(e) if isinstance(e, Progress) else None)
        handle = queue.submit(request)

        def interrupt(signum, frame):  # Ctrl+C or a kill cancels the job cleanly instead of killing torch mid-step
            queue.cancel(handle)

        with _signals_handled_by(interrupt):
            while not handle.wait(0.2):
                pass
    if show_progress:
        print(file=sys.stderr)
    if handle.status == JobStatus.COMPLETED:
        return handle.result
    if handle.status == JobStatus.CANCELLED:
        raise CommandFailed("cancelled", "cancelled")
    raise CommandFailed(handle.error or "the job failed", handle.error_kind or "error")


@contextlib.contextmanager
def _signals_handled_by(handler):
    """SIGINT and SIGTERM (what `kill`, systemd and job schedulers send) both run `handler`
    for the duration; only the main thread may set handlers, elsewhere this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _check_size(request, models, any_size: bool) -> None:
    """Refuse a size far beyond the model's native one (engine.limits) unless --any-size; the
    model is only looked up here, not loaded."""
    from engine.errors import BadInput
    from engine.limits import size_refusal
    from engine.validation import check_pixels

    spec = models.registry.resolve(request.model, trust_pickle=request.trust_pickle)
    native_h, native_w = spec.size()
    width = native_w if request.width is None else request.width
    height = native_h if request.height is None else request.height
    check_pixels(width, height)
    refusal = None if any_size else size_refusal(width, height, (native_h, native_w), spec.id)
    if refusal:
        raise BadInput(refusal)


def _print_progress(event) -> None:
    print(f"\rstep {event.step}/{event.total}", end="", file=sys.stderr, flush=True)


# --- commands ------------------------------------------------------------------------------


def cmd_models_list(args) -> dict:
    cache = _make_cache(tuple(args.models_dir))
    models = [spec.summary() for spec in cache.registry.list()]
    if not args.json:
        print(_models_table(models))
    return {"models": models}


def _models_table(models: list[dict]) -> str:
    """One line per model under a header, each column as wide as its longest entry."""
    rows = [("ID", "FAMILY", "SOURCE", "STATUS")]
    rows += [(m["id"], m["family"], m["source"], "available" if m["available"] else "missing") for m in models]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    problems = [""] + [f"  ({m['problem']})" if m.get("problem") else "" for m in models]
    return "\n".join("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[3]]) + problem
                     for row, problem in zip(rows, problems))


def cmd_generate(args) -> dict:
    from engine.api import GenerateRequest

    models = _make_cache()
    model = args.model or models.registry.default_image_model().id
    request = GenerateRequest(
        prompt=args.prompt, negative_prompt=args.negative, output_dir=_out_dir(args.out), model=model,
        seed=random_seed() if args.seed is None else args.seed, count=args.count, steps=args.steps,
        guidance=args.guidance, scheduler=args.scheduler, width=args.width, height=args.height,
        grid_rows=args.grid[0], grid_cols=args.grid[1],
        init_image=_image_file(args.init_image) if args.init_image else None,
        strength=args.strength, rerank=args.rerank, scorer=args.scorer, trust_pickle=args.trust_pickle,
    )
    _check_size(request, models, args.any_size)
    result = run_job(request, models, show_progress=not args.json)
    if not args.json:
        for image in result.images:
            score = f"  score {image.score:.3f}" if image.score is not None else ""
            print(f"{image.path}  seed {image.seed}{score}")
    return to_json(result)


def cmd_regenerate(args) -> dict:
    from dataclasses import replace

    from engine.errors import BadInput
    from engine.metadata import read_request
    from engine.validation import check_request

    from engine.cli_clip import is_clip_file, regenerate_clip

    if is_clip_file(args.image):
        return regenerate_clip(args)
    name = Path(args.image).name
    request = read_request(args.image)
    if request.task == "compare":  # our comparisons record no request of their own; this one was made up
        raise BadInput(f"{name} records a comparison, which regenerate does not remake; run "
                       "`latent-studio compare` on its source image instead.")
    changes = {"output_dir": _out_dir(args.out)}
    if request.task == "generate":
        # only this command line may vouch for a pickled model, never the image's metadata
        changes.update(rerank=False, scorer=None, trust_pickle=args.trust_pickle)
    request = replace(request, **changes)
    models = _make_cache()
    try:  # the metadata is untrusted input: the command line's bounds, before anything runs
        check_request(request)
        if request.task == "generate":
            _check_size(request, models, args.any_size)
    except BadInput as exc:
        raise BadInput(f"{name} records a request that cannot run: {exc}") from None
    result = run_job(request, models, show_progress=not args.json)
    if not args.json:
        print(result.images[0].path)
    return to_json(result)


def _run_edit(request, args, seed_label: str) -> dict:
    result = run_job(request, _make_cache(), show_progress=not args.json)
    if not args.json:
        for image in result.images:
            print(f"{image.path}  {seed_label} {image.seed}")
    return to_json(result)


def cmd_resample(args) -> dict:
    from engine.api import ResampleRequest

    request = ResampleRequest(count=args.count, radius=args.radius, strength=args.strength, context=args.context,
                              **_edit_fields(args))
    return _run_edit(request, args, "cell seed")


def cmd_inpaint(args) -> dict:
    from engine.api import InpaintRequest

    mask = _image_file(args.mask) if args.mask else None
    request = InpaintRequest(count=args.count, mask=mask, **_edit_fields(args))
    return _run_edit(request, args, "seed")


def cmd_compare(args) -> dict:
    from engine.api import CompareRequest

    request = CompareRequest(radius=args.radius, context=args.context, **_edit_fields(args))
    result = run_job(request, _make_cache(), show_progress=not args.json)
    if not args.json:
        print(f"{'measure':18} {'resample':>10} {'inpaint':>10}")
        for key in result.resample_metrics:
            row = [result.resample_metrics[key], result.inpaint_metrics[key]]
            print(f"{key:18} " + " ".join("         —" if v is None else f"{v:10.4f}" for v in row))
        print(f"side by side: {result.side_by_side}")
    return to_json(result)


def cmd_demo(args) -> dict:
    from engine.api import GenerateRequest

    models = _make_cache()
    spec = models.registry.default_image_model()
    out = Path(args.out or Path.cwd() / "latent-studio-demo").resolve()
    images = []
    seconds = 0.0
    for index, prompt in enumerate(DEMO_PROMPTS):
        request = GenerateRequest(prompt=prompt, output_dir=str(out), model=spec.id, seed=index, count=4,
                                  rerank=True)
        result = run_job(request, models, show_progress=False)
        seconds += result.seconds
        images += [to_json(image) | {"prompt": prompt} for image in result.images]
    if not args.json:
        print(f"Wrote {len(images)} images with their metadata (prompt, seeds, grid) to {out}")
        print("Open them in any viewer; `latent-studio regenerate IMAGE.png --out DIR` makes one again exactly.")
    return {"model": spec.id, "out": str(out), "images": images, "seconds": seconds}


def cmd_eval(args) -> dict:
    from engine.toy.evaluate import evaluate

    models = _make_cache()
    model = args.model
    if model is None:
        from engine.errors import ModelNotFound

        try:
            model = models.registry.default_image_model().id
        except ModelNotFound:
            raise ModelNotFound(
                "The bundled toy-scenes model is missing from resources/models; export it with "
                "`python -m engine.toy.training.export`, or name the model to grade: `latent-studio eval MODEL`."
            ) from None

    def progress(stage: str, done: int, total: int) -> None:
        print(f"\r{stage} {done}/{total}   ", end="" if done < total else "\n", file=sys.stderr, flush=True)

    if models.registry.resolve(model).family == "animatediff":  # a motion model: graded on moving scenes
        from engine.toy import evaluate_motion

        report = evaluate_motion.evaluate(models, model_id=model, samples=args.samples, seed=args.seed,
                                          out_dir=str(Path(args.out).resolve()) if args.out else None,
                                          progress=None if args.json else progress)
        if not args.json:
            evaluate_motion.print_summary(report)
        return report

    report = evaluate(
        models, model_id=model, scorer_id=args.scorer, samples=args.samples, seed=args.seed,
        out_dir=str(Path(args.out).resolve()) if args.out else None, scorer_samples=args.scorer_samples,
        rerank_samples=args.rerank_samples, progress=None if args.json else progress,
    )
    if not args.json:
        acc = report["accuracy"]

        def show(value):
            return "  n/a" if value is None else f"{value:5.2f}"

        print(f"{report['model']} (scorer {report['scorer']}), seed {report['seed']}")
        print(f"one object  ({report['samples']['single']:3d}): colour+position {show(acc['single']['colour_position'])}"
              f"  shape {show(acc['single']['shape'])}  size {show(acc['single']['size'])}"
              f"  all {show(acc['single']['all_correct'])}")
        print(f"two objects ({report['samples']['two']:3d}): both colour+position "
              f"{show(acc['two']['both_colour_position'])}  all {show(acc['two']['all_correct'])}")
        print(f"background {show(acc['background'])}   scorer top-1 {show(report['scorer_top1'])}   "
              f"rerank: top {show(report['rerank']['reranked'])} vs random {show(report['rerank']['random'])}")
        print(f"{report['seconds_per_image']:.2f} s per image; targets met: "
              + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in report["meets_targets"].items()))
        if report["contact_sheet"]:
            print(f"contact sheet: {report['contact_sheet']}")
    return report


COMMANDS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "generate": cmd_generate,
    "regenerate": cmd_regenerate,
    "resample": cmd_resample,
    "inpaint": cmd_inpaint,
    "compare": cmd_compare,
    "demo": cmd_demo,
    "eval": cmd_eval,
    **TIMELINE_COMMANDS,
    **CLIP_COMMANDS,
    **CHAIN_COMMANDS,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CommandFailed as exc:  # parsing failed, so whether --json was asked for is read off the words
        return _fail(str(exc), exc.kind, "--json" in argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "models":
        if args.models_command != "list":
            parser.parse_args(["models", "--help"])
        handler = cmd_models_list
    else:
        handler = COMMANDS[args.command]
    as_json = getattr(args, "json", False)
    _quiet_libraries()
    try:
        with _signals_handled_by(signal.default_int_handler):  # a kill outside a job: as Ctrl+C, "cancelled"
            output = handler(args)
    except (StudioError, CommandFailed) as exc:
        return _fail(str(exc), getattr(exc, "kind", "error"), as_json)
    except KeyboardInterrupt:
        return _fail("cancelled", "cancelled", as_json)
    if as_json:
        print(json.dumps(output))
    return 0


def _quiet_libraries() -> None:
    """Library chatter (optional-backend notices, deprecations) would bury our one-line messages."""
    import logging
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("transformers", "diffusers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fail(message: str, kind: str, as_json: bool) -> int:
    print(f"latent-studio: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "kind": kind}))
    return 2 if kind in ("bad_input", "model_not_found", "unsafe_checkpoint") else 1


if __name__ == "__main__":
    from engine.threads import apply_thread_policy

    apply_thread_policy()  # `python -m engine.cli`; torch has not loaded yet
    # this file runs as __main__, and the subcommand modules import engine.cli (run_job) as a second
    # module: its main catches that module's CommandFailed, so a failed job ends in one sentence here too
    from engine.cli import main as package_main

    sys.exit(package_main())
