"""Chain benchmark (issue 16.5): N-hop chains, naive last-frame chaining against ours.

    python tests/benchmarks/bench_chain.py [--hops 10] [--seeds 5] [--frames N] [--steps N]
                                           [--tiny | --model-folder DIR] [--device cpu] [--out FILE]

Runs on the bundled motion model `toy-scenes-motion` when it is installed (identity measured with
the bundled scorer `toy-scenes-clip`'s vision tower), else on the tiny random-weight AnimateDiff
of engine.testing (and its tiny CLIP scorer); "model" in the JSON says which. Shots keep the
object and change its motion.

- naive: each clip continues from the previous clip's last frame alone, decoded and encoded again
  (no stored latents), nothing corrected (engine.clips.chain.NAIVE);
- ours: from the stored tail latents (two frames held, the next ramped), colours corrected.

Shots follow the motion model's caption grammar ("a large red circle in the center moving to the
right on a gray background", then "... moving up", ...); the identity reference is that circle as
the toy renderer draws it, given to ours as every shot's reference (naive has none).

Per method, over the seeds: identity at hop N / hop 1 (CLIP image cosine and colour-histogram
correlation to the reference), colour drift at hop N (RGB distance of mean colour to hop
1's, 0-255), contrast and sharpness ratios at hop N, and at every cut SSIM, histogram correlation
and the object's jump against its frame-to-frame motion (pixels). `targets` checks the issue's:
ours keeps identity at hop N >= 0.9 of hop 1, every cut's jump within 3 px, ours' colour drift at
hop N under half of naive's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import direct_context, emit, machine  # noqa: E402

BUNDLED = "toy-scenes-motion"
BUNDLED_SCORER = "toy-scenes-clip"
MOTIONS = ("moving to the right", "moving up", "moving to the left", "moving down")
SHOT = "a large red circle in the center {} on a gray background"  # the motion model's caption grammar


def shots(hops: int, reference: str | None):
    from engine.clips.chain import Shot

    return [Shot(SHOT.format(MOTIONS[i % len(MOTIONS)]), reference) for i in range(hops)]


def write_reference(work: Path, size: int) -> tuple[str, object]:
    """The object as the toy renderer draws it (engine.toy.motion_scenes): the identity every hop is measured against."""
    from PIL import Image

    from engine.toy.motion_scenes import render_clip

    frame = render_clip(SHOT.replace(" {}", ""), frames=1, size=size)[0]  # the still caption
    path = work / "reference.png"
    Image.fromarray(frame).save(path)
    return str(path), frame


def models(tiny: bool, work: Path, device: str, folder: str | None = None):
    """(model cache, model id, scorer, which) for the bundled motion model (or a candidate for it in
    `folder`: a motion adapter folder on toy-scenes, as training exports one), or the tiny kit."""
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.paths import bundled_models_dir
    from engine.scoring import ClipScorer

    bundled = bundled_models_dir()
    if folder:
        scorer = ClipScorer.load(bundled / BUNDLED_SCORER, device)
        return ModelCache(ModelRegistry(), device=device), str(Path(folder).resolve()), scorer, "folder"
    if not tiny and (bundled / BUNDLED / "latent-studio.json").is_file():
        scorer = ClipScorer.load(bundled / BUNDLED_SCORER, device) if (bundled / BUNDLED_SCORER).is_dir() else None
        return ModelCache(ModelRegistry(), device=device), BUNDLED, scorer, "bundled"
    from engine.testing import write_tiny_clip, write_tiny_motion_adapter, write_tiny_sd1

    write_tiny_sd1(work / "kit" / "sd1")
    write_tiny_motion_adapter(work / "kit" / "animatediff")
    scorer = ClipScorer.load(write_tiny_clip(work / "clip"), device)
    return ModelCache(ModelRegistry(bundled_dir=work / "kit"), device=device), "tiny-animatediff", scorer, "tiny kit"


def run_method(cache, model: str, settings_fields: dict, hops: int, seed: int, frames, steps, scorer, out: Path,
               reference: tuple[str, object], use_reference: bool) -> dict:
    from engine.clips import chain, drift
    from engine.clips.files import read_frames
    from engine.tasks import run_task

    context = direct_context(cache)
    settings = chain.Settings(model=model, frames=frames, steps=steps, **settings_fields)
    report = chain.run_chain(shots(hops, reference[0] if use_reference else None), settings,
                             chain.with_seeds(hops, seed), out, lambda request: run_task(request, context))
    return drift.chain([read_frames(c["clip"]["master"]) for c in report["clips"]], [reference[1]], scorer)


def summarise(measured: list[dict]) -> dict:
    import numpy as np

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    def ratio(kind):
        return mean([m["hops"][-1]["identity"][kind] / m["hops"][0]["identity"][kind]
                     for m in measured if m["hops"][0]["identity"][kind]])

    cuts = [c for m in measured for c in m["cuts"]]
    per_cut = list(zip(*[m["cuts"] for m in measured]))
    return {
        "identity_hop_n_over_hop_1": {"clip": ratio("clip"), "colour": ratio("colour")},
        "colour_drift_hop_n": mean([m["hops"][-1]["drift"]["colour"] for m in measured]),
        "contrast_ratio_hop_n": mean([m["hops"][-1]["drift"]["contrast"] for m in measured]),
        "sharpness_ratio_hop_n": mean([m["hops"][-1]["drift"]["sharpness"] for m in measured]),
        "cuts": [{key: mean([c[key] for c in at]) for key in ("ssim", "histogram", "jump", "motion")} for at in per_cut],
        "max_jump": max([c["jump"] for c in cuts if c["jump"] is not None], default=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hops", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=None, help="new frames per clip (default: the model's)")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's")
    parser.add_argument("--tiny", action="store_true", help="the tiny kit even where the bundled model is installed")
    parser.add_argument("--model-folder", default=None,
                        help="a motion adapter folder on toy-scenes to measure instead (a training export)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from engine.clips.chain import NAIVE

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        cache, model, scorer, which = models(args.tiny, work, args.device, args.model_folder)
        reference = write_reference(work, cache.registry.resolve(model).size()[0])
        methods = {"naive": (NAIVE, False), "ours": ({}, True)}  # ours keeps to the reference
        results = {name: summarise([run_method(cache, model, fields, args.hops, seed, args.frames, args.steps, scorer,
                                               work / f"{name}-{seed}", reference, use_reference)
                                    for seed in range(args.seeds)])
                   for name, (fields, use_reference) in methods.items()}
    ours, naive = results["ours"], results["naive"]
    identity = ours["identity_hop_n_over_hop_1"]["clip"] or ours["identity_hop_n_over_hop_1"]["colour"]
    report = {
        "benchmark": "chain", "model": model, "which": which, "hops": args.hops, "seeds": args.seeds,
        "frames": args.frames, "steps": args.steps, "naive": naive, "ours": ours,
        "targets": {
            "ours_identity_hop_n_at_least_0.9_of_hop_1": identity is not None and identity >= 0.9,
            "every_cut_within_3_px": ours["max_jump"] is not None and ours["max_jump"] <= 3.0,
            "ours_colour_drift_under_half_of_naive": (ours["colour_drift_hop_n"] or 0) < 0.5 * (naive["colour_drift_hop_n"] or 0),
        },
        "seconds": time.perf_counter() - started, "machine": machine(args.device),
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
