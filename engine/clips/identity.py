"""A shot's identity references and the colour correction that holds a clip to them.

References are images of the shot's subject (a canvas image, a frame, any file). Where an IP-Adapter is given (AnimateDiff), the first reference also
steers the denoiser through it (`ip_adapter_pipeline`). The correction
is statistics matching: every RGB channel of the clip (all its frames together) is shifted and
scaled to the references' mean and standard deviation. One affine map per channel for the
whole clip keeps its motion and its frame-to-frame changes; what it removes is the slow creep of
mean colour and contrast that naive chaining adds at every hop. With no reference a continued
clip is matched to the clip it continues, so a chain stays on its first clip's look.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import BadInput
from engine.images import load_rgb

MIN_STD = 1.0  # 0-255: a flat channel (of a blank reference, or of the clip) is matched in mean only
IP_ADAPTER_WEIGHTS = "ip-adapter.safetensors"


@dataclass(frozen=True)
class ColourStatistics:
    """Per-channel mean and standard deviation of images' RGB pixels (0-255)."""

    mean: np.ndarray
    std: np.ndarray


def load_references(paths) -> list[np.ndarray]:
    """Each reference as H x W x 3 uint8; one sentence for a file that is not an image."""
    images = []
    for path in paths:
        try:
            images.append(np.asarray(load_rgb(path)))
        except BadInput as exc:
            raise BadInput(f"Identity reference {Path(path).name}: {exc}") from None
    return images


def pixels(images) -> np.ndarray:
    """Pixels of one or more images (uint8 RGB, any sizes) as an N x 3 float64 array."""
    return np.concatenate([np.asarray(image, np.float64).reshape(-1, 3) for image in images])


def statistics(images) -> ColourStatistics:
    values = pixels(images)
    return ColourStatistics(values.mean(axis=0), values.std(axis=0))


def match_statistics(frames: np.ndarray, target: ColourStatistics) -> np.ndarray:
    """`frames` (F x H x W x 3 uint8) with the per-channel mean and deviation of `target`."""
    values = pixels(frames)
    mean, std = values.mean(axis=0), values.std(axis=0)
    scale = np.where((std > MIN_STD) & (target.std > MIN_STD), target.std / np.maximum(std, MIN_STD), 1.0)
    matched = (values - mean) * scale + target.mean
    return np.clip(matched, 0.0, 255.0).round().astype(np.uint8).reshape(frames.shape)


def ip_adapter_pipeline(model_cache, spec, base, folder: str):
    """A clip pipeline of its own for `spec` (on `base`) with the IP-Adapter in `folder`
    (IP_ADAPTER_WEIGHTS and image_encoder/) loaded from local files only. Its own, because loading
    an adapter changes the UNet's attention, which the cached pipeline shares with every job."""
    from engine.devices import pick_dtype
    from engine.models import loader

    folder = Path(folder)
    if not (folder / IP_ADAPTER_WEIGHTS).is_file() or not (folder / "image_encoder").is_dir():
        raise BadInput(f"{folder.name} is not an IP-Adapter folder: it needs {IP_ADAPTER_WEIGHTS} and image_encoder/.")
    if spec.family != "animatediff":
        raise BadInput(f"IP-Adapter references steer AnimateDiff clips; {spec.id} is {spec.family}: leave --ip-adapter out.")
    pipe = loader.load_clip_pipeline(spec, model_cache.device, pick_dtype(model_cache.device, spec.dtype), base)
    pipe.load_ip_adapter(str(folder), subfolder="", weight_name=IP_ADAPTER_WEIGHTS, local_files_only=True)
    return pipe
