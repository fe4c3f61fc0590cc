"""Cheap step previews: a latent -> RGB map per model family, no VAE decode.

The published SD/SDXL fits are linear in the latent channels. A model that ships its own fit
(latent_rgb.json) may fit a polynomial of the channels instead ("degree" 2 or 3): the bundled toy
VAE mixes colour non-linearly, and its linear fit read a blue square as green and a red circle on
white as white."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np

# Linear fits of latent channels to RGB in [-1, 1] (the factors ComfyUI and others use).
FAMILY_LATENT_RGB = {
    "sd1": {
        "factors": [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350],
                    [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
        "bias": [0.0, 0.0, 0.0],
        "range": "signed",
    },
    "sdxl": {
        "factors": [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068],
                    [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]],
        "bias": [0.1084, -0.0175, -0.0011],
        "range": "signed",
    },
}
FAMILY_LATENT_RGB["sd2"] = FAMILY_LATENT_RGB["sd1"]
# AnimateDiff runs an SD 1.x VAE; SVD's temporal decoder shares its encoder and latent space
FAMILY_LATENT_RGB["animatediff"] = FAMILY_LATENT_RGB["sd1"]
FAMILY_LATENT_RGB["svd"] = FAMILY_LATENT_RGB["sd1"]


def latent_features(vectors: np.ndarray, degree: int = 1) -> np.ndarray:
    """(N, C) latent vectors -> (N, K) fit features: every monomial of the channels of degree 1 to
    `degree` (degree 1: the channels themselves), in itertools' combinations order. The fit
    (engine.toy.training.export) and the previewer share this order."""
    if degree < 1:
        raise ValueError(f"latent preview degree must be at least 1, not {degree}")
    columns = [vectors]
    for power in range(2, degree + 1):
        for combo in itertools.combinations_with_replacement(range(vectors.shape[1]), power):
            columns.append(np.prod(vectors[:, list(combo)], axis=1, keepdims=True))
    return np.concatenate(columns, axis=1)


def feature_count(channels: int, degree: int) -> int:
    return math.comb(channels + degree, degree) - 1


class LatentPreviewer:
    """Maps a (1, C, H, W) latent to a small HxWx3 uint8 image."""

    def __init__(self, factors, bias, signed: bool, degree: int = 1):
        self.factors = np.asarray(factors, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.signed = signed
        self.degree = degree
        self.channels = next((c for c in range(1, len(self.factors) + 1)
                              if feature_count(c, degree) == len(self.factors)), None)
        if self.channels is None:
            raise ValueError(f"{len(self.factors)} factor rows fit no channel count at degree {degree}")

    @classmethod
    def for_model(cls, family: str, model_folder: str | Path | None = None) -> "LatentPreviewer | None":
        """The model's own fit (latent_rgb.json, in [0, 1]) if it has one, else the family's."""
        if model_folder is not None:
            fitted = Path(model_folder) / "latent_rgb.json"
            if fitted.is_file():
                data = json.loads(fitted.read_text(encoding="utf-8"))
                return cls(data["factors"], data["bias"], signed=False, degree=data.get("degree", 1))
        entry = FAMILY_LATENT_RGB.get(family)
        if entry is None:
            return None
        return cls(entry["factors"], entry["bias"], signed=True)

    @classmethod
    def channel_mix(cls, channels: int) -> "LatentPreviewer":
        """A map for latent spaces with no published fit (LTX's 128 channels, Wan's 16): channel c
        feeds colour c mod 3. It shows where things are and how they move, not their colours."""
        factors = np.zeros((channels, 3), dtype=np.float32)
        factors[np.arange(channels), np.arange(channels) % 3] = 3.0 / channels
        return cls(factors, [0.0, 0.0, 0.0], signed=True)

    @classmethod
    def for_spec(cls, spec) -> "LatentPreviewer | None":
        """The previewer for a registry ModelSpec (a single .safetensors has no folder with a fit)."""
        from engine.models.spec import SINGLE_FILE

        return cls.for_model(spec.family, spec.location if spec.source != SINGLE_FILE else None)

    def __call__(self, latents) -> np.ndarray | None:
        array = latents[0].detach().float().cpu().numpy()  # C, H, W
        channels, height, width = array.shape
        if channels != self.channels:
            return None
        vectors = latent_features(array.reshape(channels, -1).T, self.degree)
        rgb = (vectors @ self.factors + self.bias).reshape(height, width, 3)
        if self.signed:
            rgb = (rgb + 1.0) / 2.0
        return (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


def clip_frame_previewer(family: str, channels: int, frames_first: bool, unpack=None, spec=None):
    """A step preview for clip latents: the middle frame through the latent->RGB map of `spec` (the
    model whose VAE decodes them: an AnimateDiff adapter's base) where it has its own fit, else the
    family's. The bundled toy VAE's latents are not SD's: through SD's factors a black background
    showed blue and a blue square cyan.

    `frames_first`: latents are (B, F, C, H, W) (SVD) rather than (B, C, F, H, W); `unpack` turns
    packed token latents (LTX) into (B, C, F, H, W) first."""
    previewer = ((LatentPreviewer.for_spec(spec) if spec is not None else LatentPreviewer.for_model(family))
                 or LatentPreviewer.channel_mix(channels))

    def preview(latents):
        if unpack is not None and latents.ndim == 3:
            latents = unpack(latents)
        middle = latents.shape[1 if frames_first else 2] // 2
        frame = latents[:, middle] if frames_first else latents[:, :, middle]
        return previewer(frame)

    return preview
