"""Clip benchmarks: seconds per frame for each tiny family, and peak memory against length.

    python tests/benchmarks/bench_clip.py [--out FILE] [--steps N] [--real-size]

Prints one JSON object:
- per_family: each tiny family (AnimateDiff on SD 1.x, SVD, LTX-Video, Wan) at 32x32, a clip
  of its default-ish length, `steps` steps: the task's `seconds` (denoise + decode, loading and
  file writing excluded) and seconds per frame, the best of two runs after a warm-up load.
- memory: peak RSS of a fresh process making an 8-frame and a 32-frame tiny AnimateDiff clip at
  64x64 (AnimateDiff decodes 8 frames at a time into one uint8 array); `ratio` = 32-frame peak /
  8-frame peak. At this size the decoded frames are a few MB: the growth is the motion modules'
  attention over 4x the frames during denoising, which chunked decoding does not touch.
- with --real-size (meant for a GPU): one random-weight full-size architecture per family is not
  built here yet; the flag is refused so no figure is made up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, direct_context, emit, machine  # noqa: E402

RUNS = {  # family: (model id, frames, needs an image)
    "animatediff": ("tiny-animatediff", 8, False),
    "svd": ("tiny-svd", 8, True),
    "ltx": ("tiny-ltx", 9, False),
    "wan": ("tiny-wan", 9, False),
}


def _still(folder: Path) -> str:
    import numpy as np
    from PIL import Image

    path = folder / "still.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    return str(path)


def per_family(kit: Path, work: Path, steps: int) -> dict:
    from engine.api import ClipRequest
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.tasks import run_task

    models = ModelCache(ModelRegistry(bundled_dir=kit), device="cpu")
    still = _still(work)
    report = {}
    for family, (model, frames, needs_image) in RUNS.items():
        request = ClipRequest(prompt="a red cat", output_dir=str(work / family), model=model, frames=frames,
                              steps=steps, init_image=still if needs_image else None)
        start = time.perf_counter()
        run_task(request, direct_context(models))  # loads the model
        load_and_first = time.perf_counter() - start
        seconds = min(run_task(request, direct_context(models)).seconds for _ in range(2))
        report[family] = {"frames": frames, "steps": steps, "seconds": round(seconds, 4),
                          "seconds_per_frame": round(seconds / frames, 5),
                          "first_run_with_load_seconds": round(load_and_first, 3)}
    return report


_MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {root!r})
    from engine.api import ClipRequest
    from engine.jobs import JobContext
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.tasks import run_task

    models = ModelCache(ModelRegistry(bundled_dir={kit!r}), device="cpu")
    request = ClipRequest(prompt="a red cat", output_dir={out!r}, model="tiny-animatediff", frames={frames},
                          steps=2, width=64, height=64)
    result = run_task(request, JobContext(0, model_cache=models))
    print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": result.seconds}}))
""")


def memory(kit: Path, work: Path) -> dict:
    report = {}
    for frames in (8, 32):
        script = _MEMORY_SCRIPT.format(root=str(ROOT), kit=str(kit), out=str(work / f"mem{frames}"), frames=frames)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        report[f"frames_{frames}"] = json.loads(done.stdout.strip().splitlines()[-1])
    report["ratio"] = round(report["frames_32"]["peak_mb"] / report["frames_8"]["peak_mb"], 3)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--real-size", action="store_true")
    args = parser.parse_args()
    if args.real_size:
        parser.error("--real-size is not built yet: no real-size figures are made up here")
    from engine.testing import VIDEO_KIT_WRITERS

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        kit = work / "kit"
        for name, writer in VIDEO_KIT_WRITERS.items():
            writer(kit / name)
        report = {"machine": machine("cpu"), "per_family": per_family(kit, work, args.steps),
                  "memory": memory(kit, work)}
    emit(report, args.out)


if __name__ == "__main__":
    main()
