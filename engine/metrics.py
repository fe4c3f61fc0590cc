"""Measures that compare block resampling with inpainting (design, section 6).

Every function takes `y` (the original image) and `y2` (the result) as arrays of shape
H x W x C (C is normally 3; an H x W grey image is read as one channel), either float in
[0, 1] or uint8 (divided by 255), and a boolean mask `B` of shape H x W where True marks the
edited block (or the inpainting mask). "Mean" always means the mean over the pixels named
*and* over the channels. The per-pixel change is

    |y2 - y|(p) = mean over channels c of |y2[p, c] - y[p, c]|

and the distance of a pixel to the mask is

    d(p) = Euclidean distance in pixels from p to the nearest pixel of B (0 inside B),

computed exactly with ``cv2.distanceTransform`` (DIST_L2, DIST_MASK_PRECISE). `r` is the
fall-off radius in pixels; by default callers pass one block width.

Measures (all plain Python floats; NaN means "undefined for this mask", see each function):

    distortion_radial  sum_{p not in B} w(p) |y2-y|(p) / sum_{p not in B} w(p),  w = min(1, d/r)
    change_inside      mean |y2 - y| over B
    mse_inside         mean (y2 - y)^2 over B
    mse_outside        mean (y2 - y)^2 over the pixels outside B
    ssim_outside       Gaussian-window SSIM map (Wang et al. 2004), averaged over channels and
                       over the pixels with d(p) >= r
    seam               mean over channels and over the 4 px ring on each side of B's boundary of
                       |grad y2 - grad y| = |S(y2 - y)|, S the 3 x 3 Sobel gradient (magnitude of
                       the (x, y) vector). Lower is better. It counts any change of edges near the
                       boundary, the change a resample makes on purpose in its fall-off included.
    seam_step          mean over channels and over the 2 px band on each side of B's boundary of
                       |S(y2 - y)|: the gradient of the change itself right at the boundary. A step
                       in the change (a hard paste-back) shows; a change that fades out smoothly
                       (a fall-off of slope s per px gives about 8 s) hardly does. Lower is better.
    seconds            passed through from the caller, not computed here

All functions are pure and vectorised (numpy + OpenCV only).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SSIM_SIGMA = 1.5
SSIM_WINDOW = 11  # 2 * int(3.5 * sigma + 0.5) + 1, the window of scikit-image's gaussian_weights=True
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_DATA_RANGE = 1.0
SEAM_RING = 4.0  # pixels on each side of the mask's boundary
SEAM_STEP_BAND = 2.0  # pixels on each side: a step in the change shows in the first pixel or two
HEATMAP_FULL_SCALE = 0.25  # a mean absolute difference of 0.25 is the top of the colour map

MEASURE_KEYS = (
    "distortion_radial",
    "change_inside",
    "mse_inside",
    "mse_outside",
    "ssim_outside",
    "seam",
    "seam_step",
    "seconds",
)


# --------------------------------------------------------------------------- input handling


def _as_image(image, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype == np.uint8:
        array = array.astype(np.float64) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    else:
        raise ValueError(f"{name} must be float in [0, 1] or uint8, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"{name} must have shape HxWxC (or HxW), got {array.shape}")
    return array


def _pair(y, y2) -> tuple[np.ndarray, np.ndarray]:
    a = _as_image(y, "y")
    b = _as_image(y2, "y2")
    if a.shape != b.shape:
        raise ValueError(f"y and y2 must have the same shape, got {a.shape} and {b.shape}")
    return a, b


def _as_mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(mask)
    if array.shape != tuple(shape[:2]):
        raise ValueError(f"mask must have shape {tuple(shape[:2])} (the image's HxW), got {array.shape}")
    return array.astype(bool)


def _inputs(y, y2, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = _pair(y, y2)
    return a, b, _as_mask(mask, a.shape)


def _check_radius(radius: float) -> float:
    radius = float(radius)
    if not radius > 0 or not math.isfinite(radius):
        raise ValueError(f"radius must be a positive number of pixels, got {radius}")
    return radius


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


# --------------------------------------------------------------------------- distances


def _distance_transform(zero_where: np.ndarray) -> np.ndarray:
    """Distance of each pixel to the nearest True pixel of `zero_where` (inf when there is none)."""
    if not zero_where.any():
        return np.full(zero_where.shape, np.inf)
    source = np.ascontiguousarray((~zero_where).astype(np.uint8))
    return cv2.distanceTransform(source, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)


def distance_to_mask(mask) -> np.ndarray:
    """d(p): float64 H x W, the exact Euclidean distance in pixels from p to the nearest pixel of B.

    0 inside B; 1 for a pixel 4-adjacent to B, sqrt(2) for a diagonal neighbour, and so on.
    An empty mask gives inf everywhere (no pixel is near the mask).
    """
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"mask must have shape HxW, got {array.shape}")
    return _distance_transform(array.astype(bool))


def _distance_inside(mask: np.ndarray) -> np.ndarray:
    """Distance of each pixel of B to the nearest pixel outside B (0 outside B)."""
    return _distance_transform(~mask)


# --------------------------------------------------------------------------- changes


def _abs_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|y2 - y|(p): mean over channels of the absolute difference, H x W."""
    return np.abs(b - a).mean(axis=2)


def distortion_radial(y, y2, mask, radius: float) -> float:
    """sum_{p not in B} w(p) |y2-y|(p) / sum_{p not in B} w(p), with w(p) = min(1, d(p) / r).

    Change right next to the block weighs little (the block is expected to bleed a little into
    its surroundings), change a full radius or more away weighs fully. 0.0 when the
    denominator is 0 (the mask covers the whole image).
    """
    a, b, m = _inputs(y, y2, mask)
    r = _check_radius(radius)
    outside = ~m
    weights = np.minimum(1.0, distance_to_mask(m)[outside] / r)
    total = float(weights.sum())
    if total == 0.0:
        return 0.0
    return float((weights * _abs_change(a, b)[outside]).sum() / total)


def change_inside(y, y2, mask) -> float:
    """Mean |y2 - y| over the pixels of B and the channels (NaN for an empty mask)."""
    a, b, m = _inputs(y, y2, mask)
    return _mean_or_nan(np.abs(b - a)[m])


def mse_inside(y, y2, mask) -> float:
    """Mean (y2 - y)^2 over the pixels of B and the channels (NaN for an empty mask)."""
    a, b, m = _inputs(y, y2, mask)
    return _mean_or_nan(np.square(b - a)[m])


def mse_outside(y, y2, mask) -> float:
    """Mean (y2 - y)^2 over the pixels outside B and the channels (NaN when B is everything)."""
    a, b, m = _inputs(y, y2, mask)
    return _mean_or_nan(np.square(b - a)[~m])


# --------------------------------------------------------------------------- SSIM


def _gaussian_filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # BORDER_REFLECT (d c b a | a b c d) is scipy.ndimage's mode="reflect", used by scikit-image
    return cv2.sepFilter2D(image, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def ssim_map(y, y2) -> np.ndarray:
    """The SSIM map (Wang et al. 2004) averaged over channels: float64 H x W.

    Per channel, with Gaussian-weighted local statistics (sigma 1.5, 11 x 11 window, borders
    reflected as d c b a | a b c d), population (not sample) covariances, data range L = 1,
    C1 = (0.01 L)^2 and C2 = (0.03 L)^2:

        SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))

    This is scikit-image's ``structural_similarity(..., gaussian_weights=True,
    use_sample_covariance=False, data_range=1.0, full=True)`` map. It is symmetric in y, y2.
    """
    a, b = _pair(y, y2)
    kernel = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA, cv2.CV_64F)
    c1 = (SSIM_K1 * SSIM_DATA_RANGE) ** 2
    c2 = (SSIM_K2 * SSIM_DATA_RANGE) ** 2
    total = np.zeros(a.shape[:2], dtype=np.float64)
    for channel in range(a.shape[2]):
        x = np.ascontiguousarray(a[:, :, channel])
        z = np.ascontiguousarray(b[:, :, channel])
        mu_x = _gaussian_filter(x, kernel)
        mu_z = _gaussian_filter(z, kernel)
        var_x = _gaussian_filter(x * x, kernel) - mu_x * mu_x
        var_z = _gaussian_filter(z * z, kernel) - mu_z * mu_z
        cov = _gaussian_filter(x * z, kernel) - mu_x * mu_z
        numerator = (2.0 * mu_x * mu_z + c1) * (2.0 * cov + c2)
        denominator = (mu_x * mu_x + mu_z * mu_z + c1) * (var_x + var_z + c2)
        total += numerator / denominator
    return total / a.shape[2]


def ssim_outside(y, y2, mask, radius: float) -> float:
    """Mean of ``ssim_map(y, y2)`` (computed on the full images) over the pixels with d(p) >= r.

    Returns NaN when no pixel is at least r away from B (a mask that leaves no far region).
    """
    a, b, m = _inputs(y, y2, mask)
    r = _check_radius(radius)
    far = distance_to_mask(m) >= r
    return _mean_or_nan(ssim_map(a, b)[far])


# --------------------------------------------------------------------------- seam


def _gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude per channel, averaged over channels (HxW)."""
    magnitudes = []
    for channel in range(image.shape[2]):
        plane = np.ascontiguousarray(image[..., channel], dtype=np.float64)
        gx = cv2.Sobel(plane, cv2.CV_64F, 1, 0, ksize=3)
        gy = cv2.Sobel(plane, cv2.CV_64F, 0, 1, ksize=3)
        magnitudes.append(np.hypot(gx, gy))
    return np.mean(magnitudes, axis=0)


def seam_ring(mask, ring: float = SEAM_RING) -> np.ndarray:
    """The pixels within `ring` px of B's boundary, on both sides.

    Outside B: 0 < d(p) <= ring. Inside B: distance to the nearest pixel outside B <= ring.
    Empty when B is empty or covers the whole image (there is no boundary).
    """
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"mask must have shape HxW, got {m.shape}")
    outside = distance_to_mask(m)
    inside = _distance_inside(m)
    return ((~m) & (outside <= ring)) | (m & (inside <= ring))


def seam(y, y2, mask) -> float:
    """Mean |grad y2 - grad y| over ``seam_ring(mask)`` (4 px on each side of B's boundary).

    grad is the 3 x 3 Sobel gradient (OpenCV's default reflect-101 border) of each channel in
    float64; |.| is the magnitude of the difference of the two gradient vectors, averaged over
    channels. Sobel is linear, so this is the gradient magnitude of y2 - y. A result that invents,
    removes, moves or recolours an edge along the block's boundary scores high. NaN when the mask
    has no boundary (empty or whole image).
    """
    return _boundary_gradient(y, y2, mask, SEAM_RING)


def seam_step(y, y2, mask) -> float:
    """Mean |S(y2 - y)| over ``seam_ring(mask, SEAM_STEP_BAND)`` (2 px on each side of B's boundary).

    The gradient of the change image d = y2 - y where the edit meets the original: a hard
    paste-back (d jumps from the block's change to 0) gives about 4 |jump| at the boundary
    pixels, a fall-off of d over r pixels only about 8 |jump| / r. Lower is better; NaN when
    the mask has no boundary.
    """
    return _boundary_gradient(y, y2, mask, SEAM_STEP_BAND)


def _boundary_gradient(y, y2, mask, width: float) -> float:
    a, b, m = _inputs(y, y2, mask)
    return _mean_or_nan(_gradient_magnitude(b - a)[seam_ring(m, width)])


# --------------------------------------------------------------------------- all together


def measure(y, y2, mask, radius: float, seconds: float | None = None) -> dict:
    """All the measures of one result, as a dict of plain Python floats.

    Keys: distortion_radial, change_inside, mse_inside, mse_outside, ssim_outside, seam, seam_step,
    seconds.
    `seconds` is the caller's timing, passed through (None stays None).
    """
    a, b, m = _inputs(y, y2, mask)
    r = _check_radius(radius)
    return {
        "distortion_radial": distortion_radial(a, b, m, r),
        "change_inside": change_inside(a, b, m),
        "mse_inside": mse_inside(a, b, m),
        "mse_outside": mse_outside(a, b, m),
        "ssim_outside": ssim_outside(a, b, m, r),
        "seam": seam(a, b, m),
        "seam_step": seam_step(a, b, m),
        "seconds": None if seconds is None else float(seconds),
    }


# --------------------------------------------------------------------------- pictures, profiles


def difference_heatmap(y, y2) -> np.ndarray:
    """An H x W x 3 uint8 RGB picture of |y2 - y|(p) in the inferno colour map.

    The change is scaled so that 0 is black and 0.25 (or more) is the top of the map.
    """
    a, b = _pair(y, y2)
    level = np.clip(_abs_change(a, b) / HEATMAP_FULL_SCALE, 0.0, 1.0)
    grey = np.ascontiguousarray(np.rint(level * 255.0).astype(np.uint8))
    bgr = cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def ring_profile(y, y2, mask, ring_width: float, max_distance: float) -> list[tuple[float, float]]:
    """Mean |y2 - y| per ring of distance outside B: [(start, mean_change), ...].

    Ring k holds the pixels outside B with start < d(p) <= start + ring_width, for
    start = 0, ring_width, 2 ring_width, ... while start < max_distance (so with ring_width 1
    the first ring is the pixels next to B). The mean is over the ring's pixels and the
    channels; an empty ring gives NaN. Used to check that change does not grow beyond r.
    """
    a, b, m = _inputs(y, y2, mask)
    ring_width = float(ring_width)
    if not ring_width > 0 or not math.isfinite(ring_width):
        raise ValueError(f"ring_width must be a positive number of pixels, got {ring_width}")
    max_distance = float(max_distance)
    if not math.isfinite(max_distance):
        raise ValueError(f"max_distance must be finite, got {max_distance}")
    count = max(0, math.ceil(max_distance / ring_width))
    if count == 0:
        return []
    outside = ~m
    distances = distance_to_mask(m)[outside]
    changes = _abs_change(a, b)[outside]
    # ring index of each pixel: start < d <= start + width  <=>  index = ceil(d / width) - 1
    index = np.ceil(distances / ring_width) - 1
    keep = np.isfinite(index) & (index >= 0) & (index < count)
    index = index[keep].astype(np.int64)
    sums = np.bincount(index, weights=changes[keep], minlength=count)
    counts = np.bincount(index, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return [(float(k * ring_width), float(means[k])) for k in range(count)]
