"""What block resampling and inpainting share: the source image, block geometry, change maps,
the denoising window and the final composite.

Geometry lives on the latent grid: a block is a latent cell, and its pixel rectangle is the
latent rectangle times the VAE factor, so pixel masks and latent masks always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any
from pathlib import Path

import numpy as np

from engine import sampling
from engine.api import EditSettings, GridSeeds
from engine.errors import BadInput
from engine.grid import cell_bounds
from engine.images import load_rgb
from engine.metadata import read_recorded
from engine.preview import LatentPreviewer
from engine.validation import check_fields


@dataclass(frozen=True)
class Source:
    """An image to edit, with what its metadata says about how it was made (if anything)."""

    path: str
    pixels: np.ndarray  # HxWx3 uint8
    grid: GridSeeds | None
    settings: EditSettings  # as recorded; fields are None for imported images

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def load_source(path: str) -> Source:
    image = load_rgb(path)
    pixels = np.asarray(image, dtype=np.uint8).copy()
    grid, settings = read_recorded(path)
    return Source(str(path), pixels, grid, settings)


def fill_settings(given: EditSettings, recorded: EditSettings, default_model: str | None) -> EditSettings:
    """The request's settings, falling back to the recorded ones, then to defaults."""
    merged = {
        name: getattr(given, name) if getattr(given, name) is not None else getattr(recorded, name)
        for name in EditSettings.__dataclass_fields__
    }
    if merged["prompt"] is None:
        merged["prompt"] = ""
    if merged["negative_prompt"] is None:
        merged["negative_prompt"] = ""
    if merged["model"] is None:
        merged["model"] = default_model
    return EditSettings(**merged)


@dataclass(frozen=True)
class Block:
    """A latent-grid cell: its latent rectangle and the same rectangle in pixels."""

    row: int
    col: int
    top: int  # latent units, [top, bottom) x [left, right)
    bottom: int
    left: int
    right: int
    factor: int

    @property
    def pixel_box(self) -> tuple[int, int, int, int]:
        f = self.factor
        return self.top * f, self.bottom * f, self.left * f, self.right * f

    @property
    def pixel_width(self) -> int:
        return (self.right - self.left) * self.factor


def locate_block(rows: int, cols: int, row: int, col: int, latent_h: int, latent_w: int, factor: int) -> Block:
    if not (0 <= row < rows and 0 <= col < cols):
        raise BadInput(
            f"Block {row},{col} is outside the {rows}x{cols} grid; rows and columns count from 0 "
            f"at the top left, so use 0..{rows - 1},0..{cols - 1}."
        )
    if rows > latent_h or cols > latent_w:
        raise BadInput(f"A {rows}x{cols} grid is finer than this image's {latent_h}x{latent_w} latent.")
    top, bottom = cell_bounds(latent_h, rows)[row]
    left, right = cell_bounds(latent_w, cols)[col]
    return Block(row, col, top, bottom, left, right, factor)


def distance_to_box(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Euclidean distance from each pixel centre to the rectangle [top, bottom) x [left, right); 0 inside."""
    top, bottom, left, right = box
    ys = np.arange(height, dtype=np.float64) + 0.5
    xs = np.arange(width, dtype=np.float64) + 0.5
    dy = np.maximum(np.maximum(top - ys, ys - bottom), 0.0)
    dx = np.maximum(np.maximum(left - xs, xs - right), 0.0)
    return np.hypot(dy[:, None], dx[None, :])


def change_map(height: int, width: int, box, radius: float) -> np.ndarray:
    """1 inside the box, falling off linearly to 0 at `radius` outside it."""
    if radius <= 0:
        return (distance_to_box(height, width, box) == 0).astype(np.float32)
    return np.clip(1.0 - distance_to_box(height, width, box) / radius, 0.0, 1.0).astype(np.float32)


def paste_alpha(height: int, width: int, box, radius: float) -> np.ndarray:
    """Weight of the new pixels in the composite: 1 up to half the radius, 0 from the radius on.

    Beyond the fall-off the original pixels come back exactly, so VAE drift far away does not
    count as change; the ramp in between hides the hand-over.
    """
    distance = distance_to_box(height, width, box)
    if radius <= 0:
        return (distance == 0).astype(np.float32)
    return np.clip((radius - distance) / (0.5 * radius), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Window:
    """The latent rectangle actually denoised: all of it (full context) or a crop around the block."""

    top: int
    bottom: int
    left: int
    right: int

    def crop(self, tensor):
        return tensor[..., self.top:self.bottom, self.left:self.right]

    def pixel_box(self, factor: int) -> tuple[int, int, int, int]:
        return self.top * factor, self.bottom * factor, self.left * factor, self.right * factor

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class Denoised:
    """What a denoise produced, before decoding and paste-back. Paste-back and compositing
    guarantee some properties whatever the denoise did, so tests of the algorithms look here."""

    latents: Any  # 1 x C x h x w over `window`
    original: Any  # the source's latents over the same window
    window: Window


def denoise_window(block: Block, margin: float, latent_h: int, latent_w: int, multiple: int, context: str) -> Window:
    """The block plus `margin` latent pixels, grown to the UNet's size multiple and kept inside the image."""
    if context == "full":
        return Window(0, latent_h, 0, latent_w)
    if context != "window":
        raise BadInput(f"Context must be 'window' or 'full', got {context!r}.")
    pad = int(math.ceil(margin)) + 1
    return Window(*_span(block.top - pad, block.bottom + pad, latent_h, multiple),
                  *_span(block.left - pad, block.right + pad, latent_w, multiple))


def _span(start: int, end: int, length: int, multiple: int) -> tuple[int, int]:
    """[start, end) grown outwards to multiples of `multiple`, so the UNet's downsampling sees the
    window's pixels on the same phase as in the full frame; `length` is itself a multiple."""
    start = max(0, (start // multiple) * multiple)
    end = min(length, int(math.ceil(end / multiple)) * multiple)
    return start, end


def composite(original: np.ndarray, decoded: np.ndarray, window_box, alpha: np.ndarray) -> np.ndarray:
    """Blend `decoded` (the window's pixels) into `original` with per-pixel `alpha`, as uint8.

    Where alpha is 0 the result is the original bit for bit: 0 * x + 1 * y is exact in float32.
    """
    top, bottom, left, right = window_box
    result = original.astype(np.float32)
    region = result[top:bottom, left:right]
    a = alpha[top:bottom, left:right, None]
    result[top:bottom, left:right] = a * decoded.astype(np.float32) + (1.0 - a) * region
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def _check_recorded(image: str, settings: EditSettings, grid: GridSeeds | None) -> None:
    """What an image's metadata records is untrusted input, bounded like the command line's."""
    try:
        check_fields(settings)
        if grid is not None:
            check_fields(grid)
    except BadInput as exc:
        raise BadInput(f"{Path(image).name} records settings that cannot be used: {exc}") from None


class PreparedEdit:
    """Everything the edits of one image need, worked out once: the source, the settings with
    their defaults, the resolved model and its pipeline, the latent geometry and the grid.

    A resample of several candidates, and a comparison (a resample and an inpaint of one block),
    each read the image and load the model once, and encode each prompt size once.
    """

    def __init__(self, image: str, settings: EditSettings, model_cache, rows: int | None, cols: int | None,
                 grid_required: bool):
        self.source = load_source(image)
        recorded = self.source.settings
        registry = model_cache.registry
        has_model = (settings.model or recorded.model) is not None
        settings = fill_settings(settings, recorded, None if has_model else registry.default_image_model().id)
        _check_recorded(image, settings, self.source.grid)
        self.spec = registry.resolve(settings.model)
        if not self.spec.is_image_model:
            raise BadInput(f"{self.spec.id} is a {self.spec.family} model and cannot edit images.")
        self.pipe = model_cache.pipeline(self.spec, "txt2img")
        self.previewer = LatentPreviewer.for_spec(self.spec)
        self.steps = settings.steps or self.spec.default_steps
        self.guidance = self.spec.default_guidance if settings.guidance is None else settings.guidance
        self.scheduler = settings.scheduler or self.spec.default_scheduler
        self.settings = replace(settings, model=self.spec.reference, steps=self.steps, guidance=self.guidance,
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
        self._conditioning: dict[tuple[int, int], sampling.Conditioning] = {}

    def block(self, row: int, col: int) -> Block:
        return locate_block(self.rows, self.cols, row, col, self.latent_h, self.latent_w, self.factor)

    def conditioning(self, height: int, width: int) -> sampling.Conditioning:
        """The prompt encoded for a denoise of height x width pixels (SDXL's size embedding
        depends on it), encoded once per size."""
        key = (height, width)
        if key not in self._conditioning:
            self._conditioning[key] = sampling.encode_conditioning(
                self.pipe, self.spec.family, self.settings.prompt, self.settings.negative_prompt, self.guidance,
                height, width,
            )
        return self._conditioning[key]


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
