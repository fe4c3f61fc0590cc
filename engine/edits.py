"""What block resampling and inpainting share: the source image, block geometry, change maps,
the denoising window and the final composite.

Geometry lives on the latent grid: a block is a latent cell, and its pixel rectangle is the
latent rectangle times the VAE factor, so pixel masks and latent masks always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.api import EditSettings, GenerateRequest, GridSeeds, request_from_json
from engine.errors import BadInput
from engine.grid import cell_bounds
from engine.images import load_rgb
from engine.metadata import read_studio_metadata


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


def read_recorded(path: str) -> tuple[GridSeeds | None, EditSettings]:
    """The grid and generation settings an image's metadata records (None / empty when imported)."""
    try:
        data = read_studio_metadata(path)
    except BadInput:
        return None, EditSettings()
    grid = settings = None
    try:
        if data.get("grid"):
            grid = GridSeeds.from_json(data["grid"])
        if isinstance(data.get("settings"), dict):
            known = EditSettings.__dataclass_fields__
            settings = EditSettings(**{k: v for k, v in data["settings"].items() if k in known})
    except (KeyError, TypeError, ValueError):
        return None, EditSettings()  # metadata from another version or tool: treat as imported
    if settings is None or grid is None:
        try:
            recorded = request_from_json(data["request"])
        except (KeyError, TypeError, ValueError):
            recorded = None
        if isinstance(recorded, GenerateRequest):
            grid = grid or recorded.grid_seeds
            settings = settings or EditSettings(
                prompt=recorded.prompt, negative_prompt=recorded.negative_prompt, model=recorded.model,
                steps=recorded.steps, guidance=recorded.guidance, scheduler=recorded.scheduler,
            )
    return grid, settings or EditSettings()


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
    """Blend `decoded` (the window's pixels) into `original` with per-pixel `alpha`, as uint8."""
    top, bottom, left, right = window_box
    result = original.astype(np.float32)
    region = result[top:bottom, left:right]
    a = alpha[top:bottom, left:right, None]
    result[top:bottom, left:right] = a * decoded.astype(np.float32) + (1.0 - a) * region
    out = np.clip(np.round(result), 0, 255).astype(np.uint8)
    untouched = alpha == 0
    out[untouched] = original[untouched]  # exactly the original where nothing was pasted
    return out


def output_path(output_dir: str | Path, stem: str) -> Path:
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.png"
    counter = 1
    while path.exists():
        path = folder / f"{stem}-{counter}.png"
        counter += 1
    return path


def settings_json(settings: EditSettings) -> dict:
    return {name: getattr(settings, name) for name in EditSettings.__dataclass_fields__}


