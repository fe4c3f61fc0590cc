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
from engine.api import EditedImage, EditResult, GenerateRequest, ResampleRequest
from engine.errors import BadInput
from engine.grid import derive_grid_seeds, grid_noise
from engine.metadata import a1111_parameters, save_png
from engine.preview import LatentPreviewer
from engine.schedulers import make_scheduler

IMPORTED_STRENGTH = 0.75


def cell_seed_for(seed: int) -> int:
    """The new seed of a re-rolled cell for a user-facing seed (one 32-bit draw from it)."""
    return derive_grid_seeds(seed, 1, 1).seeds[0]


class PreparedEdit:
    """Everything a resample or inpaint of one image needs, computed once for all candidates."""

    def __init__(self, request, context, rows: int | None, cols: int | None, grid_required: bool):
        models = context.models
        self.source = edits.load_source(request.image)
        recorded = self.source.settings
        has_model = (request.settings.model or recorded.model) is not None
        default_model = None if has_model else models.registry.default_image_model().id
        self.settings = edits.fill_settings(request.settings, recorded, default_model)
        self.spec = models.registry.resolve(self.settings.model)
        if not self.spec.is_image_model:
            raise BadInput(f"{self.spec.id} is a {self.spec.family} model and cannot edit images.")
        self.pipe = models.pipeline(self.spec, "txt2img")
        self.previewer = LatentPreviewer.for_spec(self.spec)
        self.steps = self.settings.steps or self.spec.default_steps
        self.guidance = self.spec.default_guidance if self.settings.guidance is None else self.settings.guidance
        self.scheduler = self.settings.scheduler or self.spec.default_scheduler
        self.settings = replace(self.settings, model=self.spec.reference, steps=self.steps, guidance=self.guidance,
                                scheduler=self.scheduler)
        self.channels, self.latent_h, self.latent_w = sampling.latent_geometry(
            self.pipe, self.source.height, self.source.width
        )
        self.factor = self.pipe.vae_scale_factor
        self.multiple = 2 ** (len(self.pipe.unet.config.block_out_channels) - 1)
        grid = self.source.grid
        rows = rows or (grid.rows if grid else None)
        cols = cols or (grid.cols if grid else None)
        if grid_required and (rows is None or cols is None):
            raise BadInput(
                f"{self.source.path} has no Latent Studio metadata, so its grid is unknown; pass --grid ROWSxCOLS."
            )
        self.rows, self.cols = rows, cols
        # An image keeps its recorded seeds only if the grid asked for is the one it was made with.
        self.imported = grid is None or (grid.rows, grid.cols) != (rows, cols)

    def block(self, row: int, col: int) -> edits.Block:
        return edits.locate_block(self.rows, self.cols, row, col, self.latent_h, self.latent_w, self.factor)


def run(request: ResampleRequest, context) -> EditResult:
    prepared = PreparedEdit(request, context, request.grid_rows, request.grid_cols, grid_required=True)
    sampling.require_plain_unet(prepared.pipe, prepared.spec.id)
    block = prepared.block(request.row, request.col)
    if request.count < 1:
        raise BadInput(f"Count must be at least 1, got {request.count}.")
    if request.cell_seeds is not None and len(request.cell_seeds) != request.count:
        raise BadInput("Give one cell seed per candidate.")
    source_grid = request.grid_seeds or (
        prepared.source.grid if not prepared.imported else derive_grid_seeds(request.seed, prepared.rows, prepared.cols)
    )
    strength = request.strength or (IMPORTED_STRENGTH if prepared.imported else 1.0)
    if not 0.0 < strength <= 1.0:
        raise BadInput(f"Strength must be in (0, 1], got {strength}.")
    radius_px = block.pixel_width if request.radius is None else float(request.radius)
    if radius_px < 0:
        raise BadInput(f"Radius must be 0 or more pixels, got {radius_px}.")

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
        results.append(EditedImage(path=str(path), seed=cell_seed, grid=grid))
        sampling.candidate_saved(context, index, path, cell_seed)
    return EditResult(images=tuple(results), seconds=seconds)


def resample_pixels(prepared: PreparedEdit, block: edits.Block, grid, radius_px: float, strength: float,
                    context_mode: str, on_step=None) -> np.ndarray:
    """One resampled image as HxWx3 uint8."""
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
    cond = sampling.encode_conditioning(pipe, prepared.spec.family, prepared.settings.prompt,
                                        prepared.settings.negative_prompt, prepared.guidance,
                                        window.height * factor, window.width * factor)
    noise = window.crop(grid_noise(grid, prepared.channels, prepared.latent_h, prepared.latent_w))
    noise = noise.to(device=device, dtype=original.dtype)
    box = (block.top - window.top, block.bottom - window.top, block.left - window.left, block.right - window.left)
    free_map = torch.from_numpy(edits.change_map(window.height, window.width, box, radius_latent)).to(device)
    timesteps = sampling.schedule(scheduler, prepared.steps, strength, device=device)
    latents = sampling.initial_latents(pipe, scheduler, noise, original if strength < 1.0 else None, timesteps)
    hold = threshold_hold(scheduler, original, noise, free_map, timesteps)
    latents = sampling.denoise(pipe, scheduler, cond, latents, timesteps,
                               generator=torch.Generator("cpu").manual_seed(grid.seed_at(block.row, block.col)),
                               on_step=on_step, hook=hold)
    decoded = sampling.decode(pipe, latents)
    alpha = edits.paste_alpha(prepared.source.height, prepared.source.width, block.pixel_box, radius_px)
    return edits.composite(prepared.source.pixels, decoded, window.pixel_box(factor), alpha)


def threshold_hold(scheduler, original, noise, free_map, timesteps):
    """The per-step hold (differential diffusion): a pixel whose map value is m is free only in the
    last m of the schedule, as if SDEdit had started it at strength m, and is reset to the original
    noised to the current step before that. After step i of N it is free where m > 1 - (i + 1) / N:
    the block (m = 1) is free throughout, the fall-off ring joins as the noise gets finer (so it only
    adapts in detail to the new block), and m = 0 is never free.
    """
    import torch

    total = len(timesteps)

    def hook(index: int, timestep, latents):
        free = free_map > 1.0 - (index + 1) / total
        if index + 1 < total:
            held = scheduler.add_noise(original, noise, timesteps[index + 1:index + 2])
        else:
            held = original
        return torch.where(free, latents, held.to(latents.dtype))

    return hook


def _save(pixels: np.ndarray, request: ResampleRequest, filled: ResampleRequest, grid, prepared, cell_seed: int):
    from PIL import Image

    stem = f"{_stem(request.image)}-r{request.row}c{request.col}-{cell_seed}"
    path = edits.output_path(request.output_dir, stem)
    settings = prepared.settings
    described = GenerateRequest(prompt=settings.prompt, negative_prompt=settings.negative_prompt,
                                output_dir=request.output_dir, seed=cell_seed, grid_seeds=grid)
    parameters = a1111_parameters(described, prepared.spec.id, prepared.source.width, prepared.source.height,
                                  settings.steps, settings.guidance, settings.scheduler)
    save_png(Image.fromarray(pixels), path, filled, parameters,
             extra={"grid": grid.to_json(), "settings": edits.settings_json(settings)})
    return path


def _stem(image_path: str) -> str:
    return Path(image_path).stem[:48]
