"""What a continued clip starts from: the previous clip's tail, and how each family is held to it.

A clip on disk (engine.clips.files) keeps its frames (the lossless master) and the final latents
of its last frames. Continuing from its end takes those latents as they are, so the look of the
last frames never goes through a VAE decode/encode round trip (the round trip is what makes
colour and contrast creep a little at every hop). Continuing from an earlier frame (`from_frame`)
encodes the master's frames up to it: there are no stored latents there.

Per family:
- AnimateDiff (and the bundled motion model, an AnimateDiff adapter) has no frame conditioning,
  so the clip is made `overlap` frames longer and those first frames are held to the tail's
  latents at every step (engine.edits.threshold_hold: the hold of block resampling), and the
  next `ramp` frames are held to the last tail frame through the first part of the schedule
  only, so they start where the tail ended and move freely as the noise gets finer. The held
  frames are dropped from the result: the new clip starts with the frame after the tail.
- LTX-Video conditions natively (`LTXVideoCondition(video=tail, frame_index=0)`).
- Wan VACE conditions natively too: the tail is VACE's `video` for the first frames, black in its
  `mask` (keep), and grey frames after it, white (generate); identity references are its
  `reference_images`. Both take pixel frames (the master's), which VACE encodes itself. A plain
  Wan model has no frame conditioning and is refused: continue Wan clips made with a VACE model.
- SVD starts from one image: the tail's last frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.api import ClipRequest, ContinueRequest, request_from_json
from engine.clips.files import TAIL_LATENT_FRAMES, read_clip_request, read_frames, read_latents, sidecar_of
from engine.errors import BadInput
from engine.metadata import _relative_to

RAMP_FRAMES = 2  # frames after the held overlap that are held to the tail's last frame early in the schedule
LTX_OVERLAP = 9  # LTX conditions on 8k+1 frames: 9 is two latent frames
WAN_OVERLAP = 5  # Wan's causal VAE: latent frame 0 is one frame, each further one 4, so 5 is two latent frames


@dataclass(frozen=True)
class Source:
    """The clip being continued: its request, its frames up to the chosen one, and the latents of
    its last `TAIL_LATENT_FRAMES` frames (B, F, C, H, W) when the chosen frame is its last."""

    request: ClipRequest
    frames: np.ndarray  # F x H x W x 3 uint8, the clip's frames up to and including the chosen one
    tail_latents: Any  # None where the stored latents do not end at the chosen frame
    family: str
    name: str

    @property
    def chosen(self) -> int:
        return len(self.frames) - 1


def read_source(path: str | Path, from_frame: int | None, use_latents: bool = True) -> Source:
    """The clip at `path` (its sidecar, preview or master), cut after frame `from_frame` (its last
    when None); its stored tail latents unless `use_latents` is False."""
    sidecar = sidecar_of(path)
    request = read_clip_request(sidecar)
    try:
        result = json.loads(sidecar.read_text(encoding="utf-8"))["result"]
        master = sidecar.parent / result["master"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{sidecar.name} is not a clip sidecar this version can read ({exc}).") from None
    if not master.is_file():
        raise BadInput(f"{sidecar.name} names its master {master.name}, which is not beside it; "
                       "keep a clip's files together.")
    frames = read_frames(master)
    last = len(frames) - 1
    chosen = last if from_frame is None else from_frame
    if not 0 <= chosen <= last:
        raise BadInput(f"{master.name} has frames 0 to {last}; frame {from_frame} is not one of them.")
    latents = None
    stored = sidecar.parent / str(result.get("latents") or "")
    if use_latents and chosen == last and stored.is_file():
        latents = read_latents(stored)
    return Source(request=request, frames=frames[: chosen + 1], tail_latents=latents,
                  family=str(result.get("family", "")), name=sidecar.name)


@dataclass(frozen=True)
class Plan:
    """How many frames the family makes (`generated`) and how many of the first are the tail (`overlap`)."""

    overlap: int
    generated: int


def default_new_frames(family: str, clip_frames: int) -> int:
    """New frames of a continue that names none: as many as the clip it continues has, in the
    family's step (LTX-Video makes 8k+1 frames and continues with 8k, Wan 4k+1 and 4k)."""
    step = {"ltx": 8, "wan": 4}.get(family)
    return max(step, clip_frames // step * step) if step else clip_frames


def plan(family: str, new_frames: int, overlap: int | None, source: Source, vace: bool = False) -> Plan:
    """`vace`: a Wan model is a VACE one (engine.models.loader.is_wan_vace), which keeps given frames."""
    available = len(source.frames)
    if overlap is not None and overlap < 1:
        raise BadInput(f"An overlap of {overlap} holds no frame of the clip; give 1 or more, or leave it out.")
    if family == "svd":
        return Plan(1, new_frames + 1)
    if family == "ltx":
        wanted = overlap or (LTX_OVERLAP if available >= LTX_OVERLAP else 1)
        if (wanted - 1) % 8 or wanted > available:
            raise BadInput(f"LTX-Video continues from 8k+1 frames of the clip (1 or 9, ...) that it has; "
                           f"an overlap of {wanted} of its {available} is not possible.")
        if new_frames % 8:
            raise BadInput(f"LTX-Video continues with a multiple of 8 new frames (8, 16, ...), not {new_frames}.")
        return Plan(wanted, wanted + new_frames)
    if family == "wan":
        if not vace:
            raise BadInput(f"{source.name} was made with a plain Wan model, which cannot start from given frames; "
                           "continue Wan clips made with a Wan VACE model (make the first shot with "
                           "--model Wan-AI/Wan2.1-VACE-1.3B-diffusers or another WanVACEPipeline folder).")
        wanted = overlap or (WAN_OVERLAP if available >= WAN_OVERLAP else 1)
        if (wanted - 1) % 4 or wanted > available:
            raise BadInput(f"Wan VACE continues from 4k+1 frames of the clip (1, 5, 9, ...) that it has; "
                           f"an overlap of {wanted} of its {available} is not possible.")
        if new_frames < 4 or new_frames % 4:
            raise BadInput(f"Wan VACE continues with a multiple of 4 new frames (4, 8, 12, ...), not {new_frames}.")
        return Plan(wanted, wanted + new_frames)
    if family == "animatediff":
        stored = 0 if source.tail_latents is None else int(source.tail_latents.shape[1])
        wanted = overlap or min(stored or TAIL_LATENT_FRAMES, available)  # from frame 0 there is one frame
        if wanted > available:
            raise BadInput(f"{source.name} has {available} frames up to the chosen one; "
                           f"an overlap of {wanted} needs that many.")
        return Plan(wanted, wanted + new_frames)
    raise BadInput(f"Continuing a {family} clip is not supported yet; continue AnimateDiff, LTX-Video, "
                   "Wan VACE or SVD clips.")


def tail_latents(view, source: Source, overlap: int):
    """The overlap frames' latents (B, C, F, H, W) for AnimateDiff: the stored ones where they
    cover the overlap, else the master's frames encoded (as the pipeline scales its latents)."""
    import torch

    stored = source.tail_latents
    if stored is not None and stored.shape[1] >= overlap:
        return stored[:, -overlap:].permute(0, 2, 1, 3, 4).contiguous()
    pixels = torch.from_numpy(source.frames[-overlap:].astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)
    with torch.inference_mode():
        encoded = view.vae.encode(pixels.to(view.vae.device, view.vae.dtype)).latent_dist.mean
    latents = encoded * view.vae.config.scaling_factor
    return latents.unsqueeze(0).permute(0, 2, 1, 3, 4).float().cpu()


class Hold:
    """AnimateDiff's training-free continuation: the starting latents and the per-step hold.

    `original` is the tail for the overlap frames and the tail's last frame repeated after it;
    the free map is 0 on the overlap (held at every step), rises over `RAMP_FRAMES` frames, and is
    1 after them (free throughout), read as engine.edits.threshold_hold reads a fall-off.
    """

    def __init__(self, scheduler, tail, generated: int, steps: int, seed: int, device="cpu", dtype=None):
        import torch

        from engine.edits import threshold_hold

        tail = tail.to(device)
        overlap = tail.shape[2]
        scheduler.set_timesteps(steps)  # the pipeline sets the same ones again
        timesteps = scheduler.timesteps
        batch, channels, _, height, width = tail.shape
        noise = torch.randn((batch, channels, generated, height, width),
                            generator=torch.Generator("cpu").manual_seed(seed)).to(device)  # same noise on any device
        rest = tail[:, :, -1:].expand(batch, channels, generated - overlap, height, width)
        original = torch.cat([tail, rest], dim=2)
        free = torch.ones((1, 1, generated, 1, 1), device=device)
        free[:, :, :overlap] = 0.0
        for j in range(min(RAMP_FRAMES, generated - overlap)):
            free[:, :, overlap + j] = (j + 1) / (RAMP_FRAMES + 1)
        noised = scheduler.add_noise(original, noise, timesteps[:1])
        start = torch.where(free >= 1.0, noise * scheduler.init_noise_sigma, noised)
        # the pipeline multiplies given latents by init_noise_sigma, and moves them to its device only
        self.start = (start / scheduler.init_noise_sigma).to(dtype or start.dtype)
        self.hook = threshold_hold(scheduler, original, noise, free, timesteps)

    def callback(self, then):
        """A `callback_on_step_end` that holds the latents in place (so the pipeline's final latents
        are the held ones), then calls `then` (progress, preview, cancel)."""

        def on_step_end(pipe, step, timestep, kwargs):
            latents = kwargs["latents"]
            latents.copy_(self.hook(step, timestep, latents))
            return then(pipe, step, timestep, kwargs)

        return on_step_end


# --- the request in the sidecar --------------------------------------------------------------


def recordable(request: ContinueRequest) -> ContinueRequest:
    """The request as the new clip's sidecar records it: its files relative to the clip's folder
    (no local folder named), so `regenerate` continues the same clip the same way again."""
    folder = Path(request.output_dir)
    relative = lambda path: _relative_to(path, folder) if path else path  # noqa: E731
    return replace(request, clip=relative(request.clip), output_dir="", ip_adapter=relative(request.ip_adapter),
                   identity_references=tuple(relative(p) for p in request.identity_references), trust_pickle=False)


def recorded_request(sidecar: Path) -> ContinueRequest | None:
    """The continue request a clip's sidecar records, its files as paths again; None for a clip
    that continues nothing."""
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))["result"].get("continues")
        if not recorded:
            return None
        request = request_from_json(recorded["request"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"{sidecar.name} is not a clip sidecar this version can read ({exc}).") from None
    absolute = lambda path: str((sidecar.parent / path).resolve()) if path else path  # noqa: E731
    return replace(request, clip=absolute(request.clip), ip_adapter=absolute(request.ip_adapter),
                   identity_references=tuple(absolute(p) for p in request.identity_references))
