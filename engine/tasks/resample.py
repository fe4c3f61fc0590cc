"""Latent-grid block resampling (DESIGN section 5).

Replace one cell's noise with a new seed and denoise again, holding everything else to the
original: a change map (1 in the block, falling off radially to 0 at the radius) is applied as
a per-step threshold schedule, differential-diffusion style. After step i of N, a latent pixel
is free only where the map exceeds 1 - (i + 1) / N; everywhere else it is reset to the original
latents noised to that step with the same grid noise. The block is free from the first step;
the ring around it joins later, when only finer detail is still being decided, so it adapts to
the new block without being redrawn; pixels beyond the radius are never free, and there the
original pixels are pasted back exactly.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine import edits, sampling
from engine.api import EditResult, GenerateRequest, ImageResult, ResampleRequest, to_json
from engine.errors import BadInput
from engine.grid import derive_grid_seeds, grid_noise
from engine.jobs import TaskContext
from engine.metadata import a1111_parameters, save_png
from engine.schedulers import make_scheduler

IMPORTED_STRENGTH = 0.75


def cell_seed_for(seed: int) -> int:
    """The new seed of a re-rolled cell for a user-facing seed (one 32-bit draw from it)."""
    return derive_grid_seeds(seed, 1, 1).seeds[0]


def run(request: ResampleRequest, context: TaskContext) -> EditResult:
    prepared = edits.PreparedEdit(request.image, request.settings, context.model_cache, request.grid_rows,
                                  request.grid_cols, grid_required=True)
    return run_prepared(request, prepared, context)


def run_prepared(request: ResampleRequest, prepared: edits.PreparedEdit, context: TaskContext) -> EditResult:
    """`run` on an edit prepared already (compare prepares once for both of its sides)."""
    sampling.require_plain_unet(prepared.pipe, prepared.spec.id)
    block = prepared.block(request.row, request.col)
    if request.cell_seeds is not None and len(request.cell_seeds) != request.count:
        raise BadInput("Give one cell seed per candidate.")
    source_grid = request.grid_seeds or (
        prepared.source.grid if not prepared.imported else derive_grid_seeds(request.seed, prepared.rows, prepared.cols)
    )
    # None means the default; 0 is refused by the limits (it would change nothing), never read as "default"
    strength = (IMPORTED_STRENGTH if prepared.imported else 1.0) if request.strength is None else request.strength
    radius_px = block.pixel_width if request.radius is None else float(request.radius)

    seconds = 0.0  # denoise + decode only (DESIGN section 6): not reading, setup or PNG writing
    results = []
    for index in range(request.count):
        context.check_cancelled()
        cell_seed = request.cell_seeds[index] if request.cell_seeds else cell_seed_for(request.seed + index)
        grid = source_grid.with_seed(request.row, request.col, cell_seed)
        started = time.perf_counter()
        pixels = resample_pixels(prepared, block, grid, radius_px, strength, request.context,
                                 on_step=sampling.candidate_progress(context, index, request.count, prepared.previewer))
        seconds += time.perf_counter() - started
        filled = replace(
            request, count=1, cell_seeds=(cell_seed,), strength=strength, radius=radius_px,
            grid_rows=prepared.rows, grid_cols=prepared.cols, grid_seeds=source_grid, settings=prepared.settings,
        )
        path = _save(pixels, request, filled, grid, prepared, cell_seed)
        results.append(ImageResult(path=str(path), seed=cell_seed, grid=grid))
        context.candidate_ready(index, str(path), cell_seed)
    return EditResult(images=tuple(results), seconds=seconds)


def resample_pixels(prepared: edits.PreparedEdit, block: edits.Block, grid, radius_px: float, strength: float,
                    context_mode: str, on_step=None) -> np.ndarray:
    """One resampled image as HxWx3 uint8."""
    denoised = resample_latents(prepared, block, grid, radius_px, strength, context_mode, on_step)
    decoded = sampling.decode(prepared.pipe, denoised.latents)
    alpha = edits.paste_alpha(prepared.source.height, prepared.source.width, block.pixel_box, radius_px)
    return edits.composite(prepared.source.pixels, decoded, denoised.window.pixel_box(prepared.factor), alpha)


def resample_latents(prepared: edits.PreparedEdit, block: edits.Block, grid, radius_px: float, strength: float,
                     context_mode: str, on_step=None) -> edits.Denoised:
    """The denoised latents of the window around the block, before decoding and paste-back."""
    import torch

    pipe = prepared.pipe
    factor = prepared.factor
    radius_latent = radius_px / factor
    window = edits.denoise_window(block, radius_latent, prepared.latent_h, prepared.latent_w, prepared.multiple,
                                  context_mode)
    w_top, w_bottom, w_left, w_right = window.pixel_box(factor)
    crop_pixels = prepared.source.pixels[w_top:w_bottom, w_left:w_right]

    from PIL import Image

    scheduler = make_scheduler(prepared.scheduler, pipe.scheduler.config)
    device = pipe._execution_device
    original = sampling.encode_image(pipe, Image.fromarray(crop_pixels))
    cond = prepared.conditioning(window.height * factor, window.width * factor)
    noise = window.crop(grid_noise(grid, prepared.channels, prepared.latent_h, prepared.latent_w))
    noise = noise.to(device=device, dtype=original.dtype)
    box = (block.top - window.top, block.bottom - window.top, block.left - window.left, block.right - window.left)
    free_map = torch.from_numpy(edits.change_map(window.height, window.width, box, radius_latent)).to(device)
    timesteps = sampling.schedule(scheduler, prepared.steps, strength, device=device)
    latents = sampling.initial_latents(pipe, scheduler, noise, original if strength < 1.0 else None, timesteps)
    hold = edits.threshold_hold(scheduler, original, noise, free_map, timesteps)
    latents = sampling.denoise(pipe, scheduler, cond, latents, timesteps,
                               generator=torch.Generator("cpu").manual_seed(grid.seed_at(block.row, block.col)),
                               on_step=on_step, hook=hold)
    return edits.Denoised(latents, original, window)


def _save(pixels: np.ndarray, request: ResampleRequest, filled: ResampleRequest, grid,
          prepared: edits.PreparedEdit, cell_seed: int) -> Path:
    from PIL import Image

    wanted = Path(request.output_dir) / f"{_stem(request.image)}-r{request.row}c{request.col}-{cell_seed}.png"
    settings = prepared.settings
    described = GenerateRequest(prompt=settings.prompt, negative_prompt=settings.negative_prompt,
                                output_dir=request.output_dir, seed=cell_seed, grid_seeds=grid)
    parameters = a1111_parameters(described, prepared.spec.id, prepared.source.width, prepared.source.height,
                                  settings.steps, settings.guidance, settings.scheduler)
    return save_png(Image.fromarray(pixels), wanted, filled, parameters,
                    extra={"grid": grid.to_json(), "settings": to_json(settings)})


def _stem(image_path: str) -> str:
    return Path(image_path).stem[:48]
