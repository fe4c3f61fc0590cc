"""Device and dtype choice: cuda > mps > cpu; half precision on GPUs, float32 on the CPU."""

from __future__ import annotations

import os


def pick_device() -> str:
    override = os.environ.get("LATENT_STUDIO_DEVICE")
    if override:
        return override
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, requested: str | None = None):
    import torch

    if requested:
        try:
            return getattr(torch, requested)
        except AttributeError:
            raise ValueError(f"unknown dtype {requested!r}; use float32, float16 or bfloat16") from None
    if device.startswith("cuda") or device == "mps":
        return torch.float16
    return torch.float32


def describe_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(0)})"
    return device
