import numpy as np
import pytest

from engine.api import GridSeeds
from engine.grid import cell_bounds, derive_grid_seeds, grid_noise


def test_cell_bounds_cover_the_latent_without_gaps():
    for length in (7, 16, 17, 128):
        for parts in (1, 3, 4, min(8, length)):
            bounds = cell_bounds(length, parts)
            assert bounds[0][0] == 0 and bounds[-1][1] == length
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [e - s for s, e in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_cell_bounds_refuse_more_parts_than_pixels():
    with pytest.raises(ValueError):
        cell_bounds(4, 5)


def test_derived_seeds_are_stable_and_distinct():
    a = derive_grid_seeds(42, 4, 4)
    assert a == derive_grid_seeds(42, 4, 4)
    assert len(set(a.seeds)) == 16
    assert a != derive_grid_seeds(43, 4, 4)
    assert all(0 <= s < 2**32 for s in a.seeds)


def test_noise_is_reproducible_and_changes_only_the_reseeded_cell():
    grid = derive_grid_seeds(7, 4, 4)
    first = grid_noise(grid, 4, 16, 16)
    assert np.array_equal(first.numpy(), grid_noise(grid, 4, 16, 16).numpy())
    changed = grid_noise(grid.with_seed(1, 2, 12345), 4, 16, 16)
    diff = (first - changed).abs().sum(dim=(0, 1)).numpy() > 0
    expected = np.zeros((16, 16), dtype=bool)
    expected[4:8, 8:12] = True
    assert np.array_equal(diff, expected)


def test_noise_is_standard_normal():
    noise = grid_noise(derive_grid_seeds(1, 8, 8), 4, 64, 64)
    assert abs(float(noise.mean())) < 0.02
    assert abs(float(noise.std()) - 1.0) < 0.02


def test_grid_seeds_validate_their_count():
    with pytest.raises(ValueError):
        GridSeeds(2, 2, (1, 2, 3))
    grid = GridSeeds(2, 2, (1, 2, 3, 4))
    assert GridSeeds.from_json(grid.to_json()) == grid
    assert grid.seed_at(1, 0) == 3
