"""Block resampling cost and quality on the bundled model (DESIGN section 10, issue 4).

    python tests/benchmarks/bench_resample.py [--model toy-scenes] [--images 10] [--blocks 4] [--out FILE]

1. Cost: resampling one cell of an 8x8 grid in window mode (and in full mode) against a full
   generation at the same steps, as ratios of medians measured in this one run.
2. Quality: over N generated images x B blocks, the mean of each measure for resample and for
   inpaint (same block, same seed), as a table.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import direct_context, emit, machine  # noqa: E402

PROMPTS = [
    "a large red circle on the left on a black background",
    "a blue square at the top on a white background",
    "a yellow triangle in the center on a gray background",
    "a green circle on the right and a purple square on the left on a white background",
    "a small orange triangle at the bottom on a black background",
]


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="toy-scenes")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import numpy as np

    from engine.api import CompareRequest, GenerateRequest, ResampleRequest
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.tasks import compare, generate, resample

    tmp = Path(tempfile.mkdtemp(prefix="bench-resample-"))
    models = ModelCache(ModelRegistry())
    spec = models.registry.resolve(args.model)
    models.pipeline(spec)
    ctx = direct_context(models)

    # --- cost ---------------------------------------------------------------------------
    base = generate.run(GenerateRequest(prompt=PROMPTS[0], output_dir=str(tmp / "cost"), model=args.model, seed=1,
                                        grid_rows=8, grid_cols=8, rerank=False), ctx).images[0]
    steps = spec.default_steps
    full_generation = timed(lambda: generate.run(GenerateRequest(
        prompt=PROMPTS[0], output_dir=str(tmp / "cost"), model=args.model, seed=2, grid_rows=8, grid_cols=8,
        rerank=False), ctx), args.repeat)
    window = timed(lambda: resample.run(ResampleRequest(
        image=base.path, output_dir=str(tmp / "cost"), row=3, col=4, seed=5, count=1, context="window"), ctx),
        args.repeat)
    full = timed(lambda: resample.run(ResampleRequest(
        image=base.path, output_dir=str(tmp / "cost"), row=3, col=4, seed=5, count=1, context="full"), ctx),
        args.repeat)
    cost = {
        "grid": "8x8",
        "steps": steps,
        "size": list(spec.size()),
        "full_generation_s": statistics.median(full_generation),
        "resample_window_s": statistics.median(window),
        "resample_full_s": statistics.median(full),
        "ratio_window_to_generation": statistics.median(window) / statistics.median(full_generation),
        "ratio_full_to_generation": statistics.median(full) / statistics.median(full_generation),
    }

    # --- quality ------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    sums: dict[str, dict[str, list[float]]] = {"resample": {}, "inpaint": {}}
    for index in range(args.images):
        prompt = PROMPTS[index % len(PROMPTS)]
        image = generate.run(GenerateRequest(prompt=prompt, output_dir=str(tmp / "quality"), model=args.model,
                                             seed=100 + index, rerank=False), ctx).images[0]
        cells = rng.choice(16, size=args.blocks, replace=False)
        for cell in cells:
            result = compare.run(CompareRequest(image=image.path, output_dir=str(tmp / "quality"), row=int(cell) // 4,
                                                col=int(cell) % 4, seed=int(cell) + 7 * index), ctx)
            for name, values in (("resample", result.resample_metrics), ("inpaint", result.inpaint_metrics)):
                for key, value in values.items():
                    if value is not None and not math.isnan(value):
                        sums[name].setdefault(key, []).append(value)
    table = {name: {key: statistics.fmean(values) for key, values in measures.items()}
             for name, measures in sums.items()}
    report = {
        "benchmark": "resample",
        "model": spec.id,
        "machine": machine(models.device),
        "cost": cost,
        "quality": {"images": args.images, "blocks_per_image": args.blocks, "grid": "4x4", "context": "full",
                    "mean": table},
        "example_side_by_side": str(next((tmp / "quality").glob("*side-by-side.png"))),
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
