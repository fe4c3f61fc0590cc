"""Generation next to CPU-busy processes: torch's default OpenMP policy against ours (issue 12.3).

    python tests/benchmarks/bench_busy_cpu.py [--model toy-scenes] [--images 2] [--steps 8] [--out FILE]

Starts one busy-looping process per usable core (each stops by itself after --busy-seconds),
then generates the same images in two fresh interpreters, one after the other: "ours" after
engine.threads.apply_thread_policy, as every entry point does, and "default" with no OpenMP
settings at all (torch's spinning waits, one thread per core). Times are the task's own
denoise + decode seconds per image; the ratio uses the images after the first (which pays
one-time costs). A run that passes --timeout is stopped and what it finished counts, so the
whole benchmark stays near two minutes. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, direct_context, emit, machine  # noqa: E402

BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def child(args) -> None:
    """One policy in this fresh interpreter; prints a line per image as it finishes."""
    if args.child == "ours":
        from engine.threads import apply_thread_policy

        apply_thread_policy()
    import torch

    from engine.api import GenerateRequest
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.tasks.generate import run

    models = ModelCache(ModelRegistry(), device="cpu")
    models.pipeline(models.registry.resolve(args.model))
    print("LOADED " + json.dumps({"torch_threads": torch.get_num_threads(),
                                  "wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)")}), flush=True)
    for seed in range(args.images):
        request = GenerateRequest(prompt="a red circle on the left on a black background",
                                  output_dir=str(Path(args.work) / args.child), model=args.model, seed=seed,
                                  steps=args.steps, count=1)
        print(f"IMAGE {run(request, direct_context(models)).seconds}", flush=True)


def measure(policy: str, args, work: Path) -> dict:
    """Run one policy's child until it ends or its time is up; what it finished counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_"))}
    command = [sys.executable, __file__, "--child", policy, "--work", str(work), "--model", args.model,
               "--images", str(args.images), "--steps", str(args.steps)]
    result: dict = {"image_seconds": []}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                               cwd=ROOT)
    timer = threading.Timer(args.timeout, process.kill)  # a spinning run may take minutes
    started = time.perf_counter()
    loaded = None
    timer.start()
    try:
        for line in process.stdout:
            if line.startswith("LOADED "):
                loaded = time.perf_counter()
                result.update(json.loads(line[len("LOADED "):]), loaded_after_s=loaded - started)
            elif line.startswith("IMAGE "):
                result["image_seconds"].append(float(line[len("IMAGE "):]))
    finally:
        timer.cancel()
        result["finished"] = process.wait() == 0
    if loaded is not None:
        result["generating_s"] = time.perf_counter() - loaded
    return result


def _per_image(result: dict) -> float | None:
    """Median seconds of the images after the first (the first pays one-time costs), else the first."""
    later = result["image_seconds"][1:] or result["image_seconds"]
    return statistics.median(later) if later else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="toy-scenes")
    parser.add_argument("--images", type=int, default=3, help="per policy; the first counts as warm-up")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--busy-seconds", type=float, default=150)
    parser.add_argument("--timeout", type=float, default=70, help="seconds one policy may take")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", choices=("default", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from engine.threads import usable_cores

    work = Path(tempfile.mkdtemp(prefix="bench-busy-"))
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=args.busy_seconds)])
            for _ in range(usable_cores())]
    try:
        time.sleep(1.0)  # let the busy loops take the cores
        ours = measure("ours", args, work)
        default = measure("default", args, work)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    report = {
        "benchmark": "busy_cpu",
        "model": args.model,
        "steps": args.steps,
        "images": args.images,
        "busy_processes": len(busy),
        "machine": machine("cpu"),
        "default_policy": default,
        "our_policy": ours,
    }
    default_s, ours_s = _per_image(default), _per_image(ours)
    report["per_image_seconds"] = {"default": default_s, "ours": ours_s}
    if default_s and ours_s:
        report["default_to_ours_ratio"] = default_s / ours_s
        report["ratio_basis"] = "median of images after the first" if len(default["image_seconds"]) > 1 \
            else "first image (the default run finished no second one in time)"
    elif ours_s and default.get("generating_s"):
        # Stopped before its first image: it took at least this long for one.
        report["default_to_ours_ratio_at_least"] = default["generating_s"] / ours_s
    emit(report, args.out)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
