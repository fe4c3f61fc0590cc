"""The latent grid: per-cell seeds and the initial noise assembled cell by cell.

Each cell's noise comes from its own CPU generator, so the noise of one cell does not depend
on any other cell, on the device or on the batch: replacing one seed changes one cell's noise
and nothing else, and the same seeds give the same noise bit for bit.
"""

from __future__ import annotations

import secrets

import numpy as np

from engine.api import GridSeeds

MAX_SEED = 2**32 - 1  # 32-bit seeds, as people know them from other tools and JSON keeps exactly


def random_seed() -> int:
    """A fresh user-facing seed; the one source of them (command line, window, controller)."""
    return secrets.randbelow(MAX_SEED + 1)


def cell_bounds(length: int, parts: int) -> list[tuple[int, int]]:
    """Split `length` latent pixels into `parts` near-equal [start, end) spans."""
    if parts < 1 or parts > length:
        raise ValueError(f"cannot split {length} latent pixels into {parts} cells")
    edges = [round(i * length / parts) for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts)]


def derive_grid_seeds(seed: int, rows: int, cols: int) -> GridSeeds:
    """The grid seeds of an image made from one user-facing seed (stable across versions)."""
    state = np.random.SeedSequence(int(seed) & MAX_SEED).generate_state(rows * cols, dtype=np.uint32)
    return GridSeeds(rows, cols, tuple(int(s) for s in state))


def grid_noise(grid: GridSeeds, channels: int, height: int, width: int):
    """Standard-normal noise of shape (1, channels, height, width) assembled from the grid's cells."""
    import torch

    noise = torch.empty((1, channels, height, width), dtype=torch.float32)
    rows = cell_bounds(height, grid.rows)
    cols = cell_bounds(width, grid.cols)
    for r, (top, bottom) in enumerate(rows):
        for c, (left, right) in enumerate(cols):
            generator = torch.Generator(device="cpu").manual_seed(grid.seed_at(r, c))
            noise[0, :, top:bottom, left:right] = torch.randn(
                (channels, bottom - top, right - left), generator=generator, dtype=torch.float32
            )
    return noise


def validate_grid(rows: int, cols: int, latent_height: int, latent_width: int) -> None:
    from engine.errors import BadInput

    if rows < 1 or cols < 1:
        raise BadInput(f"A grid needs at least 1x1 cells, got {rows}x{cols}.")
    if rows > latent_height or cols > latent_width:
        raise BadInput(
            f"A {rows}x{cols} grid is finer than the {latent_height}x{latent_width} latent; "
            f"use at most {latent_height}x{latent_width} cells or a larger image."
        )
