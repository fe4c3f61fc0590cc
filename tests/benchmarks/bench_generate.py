"""Per-image generation time on the tiny kit (or any model), task through the queue vs direct call.

    python tests/benchmarks/bench_generate.py [--model PATH_OR_ID] [--steps N] [--images N] [--out FILE]

Prints one JSON object. With no --model it writes the tiny SD 1.x kit to a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import direct_context, emit, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from engine.api import GenerateRequest
    from engine.jobs import JobQueue
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.tasks.generate import run

    tmp = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    model = args.model
    if model is None:
        from engine.testing import write_tiny_sd1

        model = str(write_tiny_sd1(tmp / "tiny-sd1"))
    models = ModelCache(ModelRegistry())
    spec = models.registry.resolve(model)
    models.pipeline(spec)  # load once, outside the timings

    def request(i: int, folder: str) -> GenerateRequest:
        return GenerateRequest(prompt="a red circle on the left on a black background", output_dir=str(tmp / folder),
                               model=model, seed=i, steps=args.steps, width=args.size, height=args.size, rerank=False)

    run(request(999, "warmup"), direct_context(models))
    direct = []
    for i in range(args.images):
        started = time.perf_counter()
        run(request(i, "direct"), direct_context(models))
        direct.append(time.perf_counter() - started)
    queued = []
    with JobQueue(model_cache=models) as queue:
        for i in range(args.images):
            started = time.perf_counter()
            handle = queue.submit(request(i, "queued"))
            handle.wait()
            queued.append(time.perf_counter() - started)
            assert handle.status.value == "completed", handle.error
    report = {
        "benchmark": "generate",
        "model": spec.id,
        "steps": args.steps or spec.default_steps,
        "size": args.size or spec.size()[0],
        "images": args.images,
        "machine": machine(models.device),
        "direct_seconds_per_image": {"median": statistics.median(direct), "min": min(direct)},
        "queued_seconds_per_image": {"median": statistics.median(queued), "min": min(queued)},
        "queue_to_direct_ratio": statistics.median(queued) / statistics.median(direct),
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
