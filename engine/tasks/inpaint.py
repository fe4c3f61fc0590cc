"""Inpainting a block or any mask: the baseline that block resampling is compared against.

With an inpainting checkpoint (a 9-channel UNet) the UNet sees the mask and the masked image;
otherwise latent masking holds everything outside the mask to the original at every step.
Either way only the masked region is pasted back, feathered inwards, so every pixel outside
the mask stays bit-identical to the original.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from engine import edits, sampling
from engine.api import EditResult, GenerateRequest, ImageResult, InpaintRequest, to_json
from engine.errors import BadInput
from engine.grid import derive_grid_seeds, grid_noise
from engine.images import load_rgb
from engine.jobs import TaskContext
from engine.metadata import a1111_parameters, save_png
from engine.schedulers import make_scheduler


def run(request: InpaintRequest, context: TaskContext) -> EditResult:
    by_block = _by_block(request)
    prepared = edits.PreparedEdit(request.image, request.settings, context.model_cache, request.grid_rows,
                                  request.grid_cols, grid_required=by_block)
    return run_prepared(request, prepared, context)


def _by_block(request: InpaintRequest) -> bool:
    by_block = request.row is not None or request.col is not None
    if by_block == (request.mask is not None):
        raise BadInput("Give either a block (--block ROW,COL) or a mask image (--mask), not both or neither.")
    return by_block


def run_prepared(request: InpaintRequest, prepared: edits.PreparedEdit, context: TaskContext) -> EditResult:
    """`run` on an edit prepared already (compare prepares once for both of its sides)."""
    if _by_block(request):
        block = prepared.block(request.row, request.col)
        mask = np.zeros((prepared.source.height, prepared.source.width), dtype=bool)
        top, bottom, left, right = block.pixel_box
        mask[top:bottom, left:right] = True
    else:
        mask = load_mask(request.mask, prepared.source.height, prepared.source.width)

    seconds = 0.0  # denoise + decode only (DESIGN section 6): not reading, setup or PNG writing
    results = []
    for index in range(request.count):
        context.check_cancelled()
        seed = request.seed + index
        started = time.perf_counter()
        pixels = inpaint_pixels(prepared, mask, seed, request.strength, request.feather,
                                on_step=sampling.candidate_progress(context, index, request.count, prepared.previewer))
        seconds += time.perf_counter() - started
        filled = replace(request, count=1, seed=seed, grid_rows=prepared.rows, grid_cols=prepared.cols,
                         settings=prepared.settings)
        path = _save(pixels, request, filled, prepared, seed)
        results.append(ImageResult(path=str(path), seed=seed, grid=prepared.source.grid))
        context.candidate_ready(index, str(path), seed)
    return EditResult(images=tuple(results), seconds=seconds)


def load_mask(path: str, height: int, width: int) -> np.ndarray:
    """A mask image as a bool array: white (or opaque) pixels are the region to repaint."""
    image = load_rgb(path)
    if image.size != (width, height):
        raise BadInput(
            f"The mask is {image.width}x{image.height} but the image is {width}x{height}; they must be the same size."
        )
    mask = np.asarray(image.convert("L")) >= 128
    if not mask.any():
        raise BadInput(f"The mask {Path(path).name} is empty: paint the region to change in white.")
    return mask


def inpaint_pixels(prepared: edits.PreparedEdit, mask: np.ndarray, seed: int, strength: float, feather: int,
                   on_step=None) -> np.ndarray:
    """One inpainted image as HxWx3 uint8: only the mask's pixels (feathered inwards) are new."""
    source = prepared.source
    decoded = sampling.decode(prepared.pipe, inpaint_latents(prepared, mask, seed, strength, on_step).latents)
    return edits.composite(source.pixels, decoded, (0, source.height, 0, source.width), feathered_alpha(mask, feather))


def inpaint_latents(prepared: edits.PreparedEdit, mask: np.ndarray, seed: int, strength: float,
                    on_step=None) -> edits.Denoised:
    """The denoised latents of the whole image, before decoding and compositing."""
    import torch
    from PIL import Image

    pipe = prepared.pipe
    factor = prepared.factor
    scheduler = make_scheduler(prepared.scheduler, pipe.scheduler.config)
    device = pipe._execution_device
    source = prepared.source
    original = sampling.encode_image(pipe, Image.fromarray(source.pixels))
    cond = prepared.conditioning(source.height, source.width)
    # a latent pixel is free if any of its pixels is masked, so the latent region covers the mask
    latent_mask = cv2.resize(mask.astype(np.uint8), (prepared.latent_w, prepared.latent_h),
                             interpolation=cv2.INTER_AREA) > 0
    latent_mask |= _max_pool(mask, factor)
    free_map = torch.from_numpy(latent_mask.astype(np.float32)).to(device)
    grid = derive_grid_seeds(seed, 1, 1)
    noise = grid_noise(grid, prepared.channels, prepared.latent_h, prepared.latent_w).to(device, original.dtype)
    timesteps = sampling.schedule(scheduler, prepared.steps, strength, device=device)
    extra = None
    hook = None
    if pipe.unet.config.in_channels == prepared.channels + prepared.channels + 1:
        masked_pixels = source.pixels.copy()
        masked_pixels[mask] = 127  # grey, as diffusers' mask processor leaves masked pixels at 0 in [-1, 1]
        masked_latents = sampling.encode_image(pipe, Image.fromarray(masked_pixels))
        extra = torch.cat([free_map[None, None].to(original.dtype), masked_latents], dim=1)
    else:
        hook = edits.threshold_hold(scheduler, original, noise, free_map, timesteps)
    latents = sampling.initial_latents(pipe, scheduler, noise, original if strength < 1.0 else None, timesteps)
    if hook is not None and strength >= 1.0:
        latents = torch.where(free_map > 0, latents, scheduler.add_noise(original, noise, timesteps[:1]))
    latents = sampling.denoise(pipe, scheduler, cond, latents, timesteps, generator=torch.Generator("cpu").manual_seed(seed),
                               on_step=on_step, hook=hook, extra_channels=extra)
    return edits.Denoised(latents, original, edits.Window(0, prepared.latent_h, 0, prepared.latent_w))


def feathered_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """1 deep inside the mask, ramping to 0 at its edge over `feather` pixels; 0 outside."""
    if feather <= 0:
        return mask.astype(np.float32)
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(inside / float(feather), 0.0, 1.0).astype(np.float32) * mask


def _max_pool(mask: np.ndarray, factor: int) -> np.ndarray:
    h, w = mask.shape
    return mask.reshape(h // factor, factor, w // factor, factor).any(axis=(1, 3))


def _save(pixels, request: InpaintRequest, filled: InpaintRequest, prepared: edits.PreparedEdit, seed: int) -> Path:
    from PIL import Image

    where = f"r{request.row}c{request.col}" if request.row is not None else "mask"
    wanted = Path(request.output_dir) / f"{Path(request.image).stem[:48]}-inpaint-{where}-{seed}.png"
    settings = prepared.settings
    described = GenerateRequest(prompt=settings.prompt, negative_prompt=settings.negative_prompt,
                                output_dir=request.output_dir, seed=seed)
    parameters = a1111_parameters(described, prepared.spec.id, prepared.source.width, prepared.source.height,
                                  settings.steps, settings.guidance, settings.scheduler)
    extra = {"settings": to_json(settings)}
    if prepared.source.grid is not None:
        extra["grid"] = prepared.source.grid.to_json()  # the unmasked area keeps the source's seeds
    return save_png(Image.fromarray(pixels), wanted, filled, parameters, extra=extra)
