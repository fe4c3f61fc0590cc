"""Block resampling against inpainting on the same block with the same seed, measured alike.

Writes both results, the original | resample | inpaint strip, a |difference| heatmap for each,
and a JSON report with DESIGN section 6's measures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from engine import edits, metrics
from engine.api import CompareRequest, CompareResult, InpaintRequest, ResampleRequest
from engine.atomic import write_new, write_text_new
from engine.errors import BadInput
from engine.images import load_rgb
from engine.jobs import TaskContext
from engine.tasks import inpaint, resample


def run(request: CompareRequest, context: TaskContext) -> CompareResult:
    common = dict(image=request.image, output_dir=request.output_dir, row=request.row, col=request.col,
                  seed=request.seed, count=1, grid_rows=request.grid_rows, grid_cols=request.grid_cols,
                  settings=request.settings)
    # One preparation for both sides: the image is read, its metadata parsed and the model
    # resolved once, and the prompt encoded once per denoise size.
    prepared = edits.PreparedEdit(request.image, request.settings, context.model_cache, request.grid_rows,
                                  request.grid_cols, grid_required=True)
    block = prepared.block(request.row, request.col)
    radius = block.pixel_width if request.radius is None else float(request.radius)
    if radius <= 0:
        raise BadInput(f"The comparison needs a fall-off radius above 0 pixels, got {radius:g}.")
    # Each task times its own work with model loading left out (DESIGN section 6), so both sides
    # are timed alike; timing around the calls here would count loading, reading and setup too.
    resample_result = resample.run_prepared(ResampleRequest(radius=request.radius, context=request.context, **common),
                                            prepared, _Half(context, 0))
    inpaint_result = inpaint.run_prepared(InpaintRequest(**common), prepared, _Half(context, 1))
    resampled, inpainted = resample_result.images[0], inpaint_result.images[0]

    original = prepared.source.pixels
    y = original.astype(np.float32) / 255.0
    results = {name: np.asarray(load_rgb(path), dtype=np.float32)
               for name, path in (("resample", resampled.path), ("inpaint", inpainted.path))}
    mask = np.zeros(original.shape[:2], dtype=bool)
    top, bottom, left, right = block.pixel_box
    mask[top:bottom, left:right] = True
    measures = {
        "resample": _json_safe(metrics.measure(y, results["resample"] / 255.0, mask, radius, resample_result.seconds)),
        "inpaint": _json_safe(metrics.measure(y, results["inpaint"] / 255.0, mask, radius, inpaint_result.seconds)),
    }
    out = Path(request.output_dir)
    stem = f"{Path(request.image).stem[:40]}-compare-r{request.row}c{request.col}-{request.seed}"
    # The strip claims this run's name; the run's other files carry the same number, so a second
    # comparison into this folder gets files of its own and the first run's report stays.
    side_by_side = _save_rgb(np.concatenate([original, results["resample"], results["inpaint"]], axis=1),
                             out / f"{stem}-side-by-side.png")
    run_tag = side_by_side.stem[len(f"{stem}-side-by-side"):]  # "" or "-N"
    heatmaps = tuple(
        str(_save_rgb(metrics.difference_heatmap(y, results[name] / 255.0), out / f"{stem}-heatmap-{name}{run_tag}.png"))
        for name in ("resample", "inpaint")
    )
    report = {
        "image": Path(request.image).name,
        "block": {"row": request.row, "col": request.col, "pixel_box": list(block.pixel_box)},
        "radius": radius,
        "resample": {"path": Path(resampled.path).name, "metrics": measures["resample"]},
        "inpaint": {"path": Path(inpainted.path).name, "metrics": measures["inpaint"]},
        "side_by_side": side_by_side.name,
        "heatmaps": [Path(path).name for path in heatmaps],
    }
    report_path = write_text_new(out / f"{stem}-report{run_tag}.json", json.dumps(report, indent=2, allow_nan=False))
    return CompareResult(
        resample_path=resampled.path, inpaint_path=inpainted.path,
        resample_metrics=measures["resample"], inpaint_metrics=measures["inpaint"],
        side_by_side=str(side_by_side), heatmaps=heatmaps, report=str(report_path),
    )


class _Half:
    """compare's TaskContext for one of its two sides: progress mapped onto one bar for both."""

    def __init__(self, context: TaskContext, half: int):
        self._context = context
        self._half = half
        self.model_cache = context.model_cache

    def report(self, step, total, preview=None):
        self._context.report(self._half * total + step, 2 * total, preview)

    def check_cancelled(self):
        self._context.check_cancelled()

    def candidate_ready(self, index, path, seed):
        """Not passed on: a comparison's two images are shown side by side when it finishes."""


def _json_safe(values: dict) -> dict:
    """NaN (a measure undefined for this block, e.g. no pixel beyond the radius) becomes None: valid JSON."""
    return {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in values.items()}


def _save_rgb(pixels: np.ndarray, wanted: Path) -> Path:
    from PIL import Image

    return write_new(wanted, lambda tmp: Image.fromarray(pixels.astype(np.uint8)).save(tmp, format="PNG"))
