"""Hand-checkable cases for the resampling-vs-inpainting measures (engine.metrics)."""

import math

import numpy as np
import pytest

from engine import metrics as M


def _texture(height=32, width=32, seed=0, low=0.0, high=0.9):
    rng = np.random.default_rng(seed)
    return low + (high - low) * rng.random((height, width, 3))


def _centre_block(height=40, width=40, top=15, left=15, size=10):
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


# --------------------------------------------------------------------------- identical, inside, uniform


def test_identical_images_give_zero_change_and_ssim_one():
    y = _texture(40, 40)
    mask = _centre_block()
    result = M.measure(y, y.copy(), mask, radius=8)
    assert set(result) == set(M.MEASURE_KEYS)
    for key in ("distortion_radial", "change_inside", "mse_inside", "mse_outside", "seam", "seam_step"):
        assert result[key] == 0.0, key
    assert result["ssim_outside"] == pytest.approx(1.0, abs=1e-12)
    assert result["seconds"] is None


def test_change_only_inside_the_block():
    y = _texture(40, 40)
    mask = _centre_block()
    y2 = y.copy()
    y2[mask] += 0.05
    result = M.measure(y, y2, mask, radius=8)
    assert result["distortion_radial"] == 0.0
    assert result["mse_outside"] == 0.0
    assert result["change_inside"] == pytest.approx(0.05)
    assert result["mse_inside"] == pytest.approx(0.0025)
    # every pixel with d >= 8 is more than 5 px (the SSIM window's half-width) from B on both axes
    assert result["ssim_outside"] == pytest.approx(1.0, abs=1e-12)


def test_uniform_change_everywhere():
    y = _texture(40, 40)
    y2 = y + 0.1
    mask = _centre_block()
    result = M.measure(y, y2, mask, radius=8, seconds=2)
    assert result["distortion_radial"] == pytest.approx(0.1)
    assert result["change_inside"] == pytest.approx(0.1)
    assert result["mse_inside"] == pytest.approx(0.01)
    assert result["mse_outside"] == pytest.approx(0.01)
    assert result["seam"] == pytest.approx(0.0, abs=1e-9)  # gradients are unchanged by an offset
    assert result["ssim_outside"] < 1.0
    assert result["seconds"] == 2.0
    assert all(type(v) is float for v in result.values())


# --------------------------------------------------------------------------- distortion_radial weights


def test_change_at_a_known_distance_gets_its_weight():
    # 5 x 10 image, B = column 0, r = 4: d(p) = column, w = min(1, column / 4).
    # Per row the weights of columns 1..9 sum to 0.25 + 0.5 + 0.75 + 6 * 1 = 7.5; 5 rows: 37.5.
    y = np.zeros((5, 10, 3))
    mask = np.zeros((5, 10), dtype=bool)
    mask[:, 0] = True
    y2 = y.copy()
    y2[2, 2] = 0.4  # d = 2, w = 0.5, |y2-y| = 0.4
    assert M.distortion_radial(y, y2, mask, 4) == pytest.approx(0.5 * 0.4 / 37.5)

    y2 = y.copy()
    y2[3, 7, 1] = 0.6  # d = 7 >= r, w = 1, one channel of three: |y2-y| = 0.2
    assert M.distortion_radial(y, y2, mask, 4) == pytest.approx(1.0 * 0.2 / 37.5)

    y2 = y.copy()
    y2[0, 1] = 0.3  # d = 1, w = 0.25
    assert M.distortion_radial(y, y2, mask, 4) == pytest.approx(0.25 * 0.3 / 37.5)


def test_distortion_is_zero_when_the_mask_covers_everything():
    y = _texture(8, 8)
    mask = np.ones((8, 8), dtype=bool)
    assert M.distortion_radial(y, y + 0.2, mask, 3) == 0.0
    assert math.isnan(M.mse_outside(y, y + 0.2, mask))


def test_empty_mask_weighs_every_pixel_fully():
    y = _texture(8, 8)
    y2 = y.copy()
    y2[0, 0] = y[0, 0] + 0.4
    mask = np.zeros((8, 8), dtype=bool)
    assert M.distortion_radial(y, y2, mask, 3) == pytest.approx(0.4 / 64)
    assert math.isnan(M.change_inside(y, y2, mask))
    assert math.isnan(M.seam(y, y2, mask))


# --------------------------------------------------------------------------- distances, blocks


def test_distance_to_mask_at_known_pixels():
    mask = np.zeros((11, 11), dtype=bool)
    mask[5, 5] = True
    d = M.distance_to_mask(mask)
    assert d.dtype == np.float64 and d.shape == (11, 11)
    assert d[5, 5] == 0.0
    assert d[5, 6] == pytest.approx(1.0)
    assert d[6, 6] == pytest.approx(math.sqrt(2), rel=1e-6)
    assert d[5, 8] == pytest.approx(3.0)
    assert d[8, 9] == pytest.approx(5.0)  # 3-4-5
    assert d[0, 0] == pytest.approx(math.sqrt(50), rel=1e-6)

    block = _centre_block(20, 20, 5, 5, 4)  # rows/cols 5..8
    d = M.distance_to_mask(block)
    assert (d[block] == 0).all()
    assert d[5, 2] == pytest.approx(3.0)
    assert d[2, 2] == pytest.approx(math.sqrt(18), rel=1e-6)
    assert d[8, 15] == pytest.approx(7.0)


def test_distance_to_an_empty_mask_is_infinite():
    assert np.isinf(M.distance_to_mask(np.zeros((4, 5), dtype=bool))).all()


# --------------------------------------------------------------------------- SSIM


def _reference_ssim_map(x, z):
    """Wang et al. 2004 with an 11x11 Gaussian (sigma 1.5), mirrored borders, written out in loops."""
    radius, sigma = 5, 1.5
    g = np.array([math.exp(-(k * k) / (2 * sigma * sigma)) for k in range(-radius, radius + 1)])
    g /= g.sum()
    window = np.outer(g, g)
    c1, c2 = 0.01**2, 0.03**2
    height, width, channels = x.shape
    out = np.zeros((height, width))
    for c in range(channels):
        xp = np.pad(x[:, :, c], radius, mode="symmetric")  # d c b a | a b c d
        zp = np.pad(z[:, :, c], radius, mode="symmetric")
        for i in range(height):
            for j in range(width):
                px = xp[i : i + 2 * radius + 1, j : j + 2 * radius + 1]
                pz = zp[i : i + 2 * radius + 1, j : j + 2 * radius + 1]
                mx = mz = sxx = szz = sxz = 0.0
                for a in range(2 * radius + 1):
                    for b in range(2 * radius + 1):
                        w = window[a, b]
                        mx += w * px[a, b]
                        mz += w * pz[a, b]
                for a in range(2 * radius + 1):
                    for b in range(2 * radius + 1):
                        w = window[a, b]
                        sxx += w * (px[a, b] - mx) ** 2
                        szz += w * (pz[a, b] - mz) ** 2
                        sxz += w * (px[a, b] - mx) * (pz[a, b] - mz)
                out[i, j] += ((2 * mx * mz + c1) * (2 * sxz + c2)) / ((mx * mx + mz * mz + c1) * (sxx + szz + c2))
    return out / channels


def test_ssim_map_matches_a_loop_reference():
    x = _texture(7, 9, seed=1)
    z = np.clip(x + 0.15 * np.random.default_rng(2).standard_normal(x.shape), 0, 1)
    expected = _reference_ssim_map(x, z)
    assert np.allclose(M.ssim_map(x, z), expected, atol=1e-10)


def test_ssim_outside_averages_the_far_pixels():
    y = _texture(24, 24, seed=3)
    y2 = np.clip(y + 0.1 * np.random.default_rng(4).standard_normal(y.shape), 0, 1)
    mask = _centre_block(24, 24, 2, 2, 4)
    far = M.distance_to_mask(mask) >= 6
    assert M.ssim_outside(y, y2, mask, 6) == pytest.approx(M.ssim_map(y, y2)[far].mean())


def test_ssim_properties():
    y = _texture(24, 24, seed=5)
    mask = _centre_block(24, 24, 0, 0, 4)
    y2 = np.clip(y + 0.1 * np.random.default_rng(6).standard_normal(y.shape), 0, 1)
    assert M.ssim_outside(y, y, mask, 4) == pytest.approx(1.0, abs=1e-12)
    assert M.ssim_outside(y, y + 0.1, mask, 4) < 1.0
    assert M.ssim_outside(y, y2, mask, 4) == pytest.approx(M.ssim_outside(y2, y, mask, 4), abs=1e-12)
    assert M.ssim_outside(y, y2, mask, 4) < M.ssim_outside(y, y + 0.1, mask, 4) < 1.0


def test_ssim_outside_is_nan_without_far_pixels():
    y = _texture(8, 8)
    mask = _centre_block(8, 8, 2, 2, 4)
    assert math.isnan(M.ssim_outside(y, y + 0.1, mask, 100))


# --------------------------------------------------------------------------- seam


def test_seam_ring_counts():
    # 10x10 block in a 30x30 image. Inside: all but the central 2x2 (their distance out is 5).
    # Outside: 4 sides of 4x10 = 160, plus 8 corner pixels per corner with a^2 + b^2 <= 16.
    mask = _centre_block(30, 30, 10, 10, 10)
    ring = M.seam_ring(mask)
    assert (ring & mask).sum() == 96
    assert (ring & ~mask).sum() == 192


def test_seam_is_zero_for_a_change_far_inside_the_block():
    y = _texture(40, 40, seed=9)
    mask = _centre_block(40, 40, 5, 5, 30)  # rows/cols 5..34
    y2 = y.copy()
    y2[16:24, 16:24] += 0.3  # 11 px inside B: Sobel at the ring (<= 4 px in, 3x3 kernel) never sees it
    assert M.seam(y, y2, mask) == 0.0
    assert M.change_inside(y, y2, mask) > 0


def test_seam_of_a_step_edge_at_the_boundary():
    # flat black image, y2 = white on B = columns 5..9. The Sobel x-response to a unit step is
    # 1 + 2 + 1 = 4 at columns 4 and 5 and 0 elsewhere; the ring is columns 1..8 (8 columns),
    # so seam = 2 * 4 / 8 = 1.
    y = np.zeros((10, 10, 3))
    mask = np.zeros((10, 10), dtype=bool)
    mask[:, 5:] = True
    y2 = y.copy()
    y2[mask] = 1.0
    assert M.seam(y, y2, mask) == pytest.approx(1.0)
    assert M.seam(y2, y, mask) == pytest.approx(1.0)


def _change_fading_out(step_width: float):
    """A textured image and a result whose change is 0.3 on the block (columns 20..) and falls to 0
    linearly over `step_width` px outside it (step_width 0: a hard paste-back)."""
    y = _texture(24, 40, seed=3, low=0.2, high=0.6)
    mask = np.zeros((24, 40), dtype=bool)
    mask[:, 20:] = True
    distance = np.maximum(20 - np.arange(40) - 0.5, 0)[None, :].repeat(24, axis=0)
    fade = (distance == 0).astype(float) if step_width == 0 else np.clip(1 - distance / step_width, 0, 1)
    return y, y + 0.3 * fade[:, :, None], mask


def test_seam_step_of_a_hard_paste_back():
    # d = y2 - y jumps by 0.3 at the boundary: Sobel gives 4 * 0.3 at columns 19 and 20 and 0
    # elsewhere in the 2 px band (columns 18..21), so seam_step = 2 * 1.2 / 4 = 0.6.
    y, y2, mask = _change_fading_out(0)
    assert M.seam_step(y, y2, mask) == pytest.approx(0.6)
    assert M.seam_step(y2, y, mask) == pytest.approx(0.6)


def test_seam_step_hardly_sees_a_smooth_fall_off_that_seam_counts():
    # The same change fading out over 16 px: slope 0.3 / 16 per px, Sobel 8 * slope outside the
    # block and about half that at its first pixel inside.
    y, smooth, mask = _change_fading_out(16)
    _, hard, _ = _change_fading_out(0)
    assert M.seam_step(y, smooth, mask) < 0.15
    assert M.seam_step(y, hard, mask) > 5 * M.seam_step(y, smooth, mask)
    # the texture's own edges do not count: only the change does
    assert M.seam_step(y, y + 0.3, mask) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(M.seam_step(y, smooth, np.zeros_like(mask)))


# --------------------------------------------------------------------------- ring profile, heatmap


def test_ring_profile():
    # B = column 0 of a 4x12 image: d(p) = column. Change 0.2 in columns 3 and 4 only.
    y = np.zeros((4, 12, 3))
    mask = np.zeros((4, 12), dtype=bool)
    mask[:, 0] = True
    y2 = y.copy()
    y2[:, 3:5] = 0.2
    profile = M.ring_profile(y, y2, mask, ring_width=2, max_distance=8)
    # rings (0,2] = cols 1,2; (2,4] = cols 3,4; (4,6] = cols 5,6; (6,8] = cols 7,8
    assert [start for start, _ in profile] == [0.0, 2.0, 4.0, 6.0]
    assert [value for _, value in profile] == pytest.approx([0.0, 0.2, 0.0, 0.0])
    profile = M.ring_profile(y, y2, mask, ring_width=1, max_distance=20)
    assert len(profile) == 20
    assert profile[2][1] == pytest.approx(0.2) and profile[3][1] == pytest.approx(0.2)
    assert math.isnan(profile[15][1])  # no pixel is 16 px away
    with pytest.raises(ValueError):
        M.ring_profile(y, y2, mask, ring_width=0, max_distance=4)


def test_difference_heatmap():
    y = np.zeros((6, 7, 3))
    y2 = y.copy()
    y2[0, 0] = 0.25
    y2[0, 1] = 0.9  # beyond full scale: clipped to the top of the map
    heat = M.difference_heatmap(y, y2)
    assert heat.shape == (6, 7, 3) and heat.dtype == np.uint8
    assert (heat[0, 0] == heat[0, 1]).all()
    assert heat[0, 0].sum() > heat[3, 3].sum()
    # inferno runs from near black to pale yellow; in RGB order the top is red-heavy, not blue-heavy
    assert heat[3, 3].max() < 10
    assert heat[0, 0, 0] > heat[0, 0, 2]


# --------------------------------------------------------------------------- inputs


def test_uint8_inputs_are_scaled():
    rng = np.random.default_rng(10)
    y8 = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    z8 = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    mask = _centre_block(20, 20, 5, 5, 6)
    as_uint8 = M.measure(y8, z8, mask, 5)
    as_float = M.measure(y8 / 255.0, z8 / 255.0, mask, 5)
    for key in M.MEASURE_KEYS[:-1]:
        assert as_uint8[key] == pytest.approx(as_float[key]), key
    assert M.difference_heatmap(y8, z8).shape == (20, 20, 3)


def test_mismatched_shapes_raise():
    y = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="same shape"):
        M.measure(y, np.zeros((8, 9, 3)), np.zeros((8, 8), dtype=bool), 2)
    with pytest.raises(ValueError, match="mask must have shape"):
        M.measure(y, y, np.zeros((8, 9), dtype=bool), 2)
    with pytest.raises(ValueError, match="same shape"):
        M.difference_heatmap(y, np.zeros((8, 8, 4)))
    with pytest.raises(ValueError, match="radius"):
        M.measure(y, y, np.zeros((8, 8), dtype=bool), 0)
    with pytest.raises(ValueError, match="dtype"):
        M.measure(y.astype(np.int32), y.astype(np.int32), np.zeros((8, 8), dtype=bool), 2)
