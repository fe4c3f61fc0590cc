"""What each clip family needs: its diffusers pipelines, its frame and size rules, and one call.

A family's `make` runs the family's own diffusers pipeline (their samplers differ too much to
share a loop: a motion UNet, SVD's image-conditioned UNet, LTX's and Wan's flow-matching
transformers) and returns float frames in [0, 1] plus the final latents. The pipeline runs
with a job's own scheduler on a per-job view of the cached pipeline's components, so nothing
a job does is left on the shared pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.errors import BadInput


@dataclass(frozen=True)
class FrameRule:
    """Frame counts a family can make: `multiple` * k + `offset`, at most `most` (None: any)."""

    multiple: int = 1
    offset: int = 0
    most: int | None = None

    def examples(self) -> str:
        return ", ".join(str(self.offset + self.multiple * k) for k in (1, 2, 3))

    def check(self, frames: int, family: str, model: str) -> None:
        if self.multiple > 1 and (frames < self.offset + self.multiple or (frames - self.offset) % self.multiple):
            below = max(self.offset + self.multiple, frames - (frames - self.offset) % self.multiple)
            above = below + self.multiple if below < frames else below
            raise BadInput(
                f"{model} ({family}) makes {self.multiple}k+{self.offset} frames ({self.examples()} ...); {frames} is not "
                f"one of them, use {below}" + (f" or {above}." if above != below else ".")
            )
        if self.most is not None and frames > self.most:
            raise BadInput(f"{model} ({family}) makes at most {self.most} frames at once, not {frames}; "
                           "make a shorter clip and continue it.")


@dataclass(frozen=True)
class Family:
    name: str
    text_class: str | None  # None: the family cannot start from a prompt alone
    image_class: str
    frames: FrameRule
    # what image to clip means here: "condition" (the image is the clip's first frame / condition)
    # or "video" (the image, repeated, is noised to `strength` and denoised: video to video)
    image_mode: str
    fixed_scheduler: bool  # flow-matching families run their own scheduler only


FAMILIES = {
    "animatediff": Family("animatediff", "AnimateDiffPipeline", "AnimateDiffVideoToVideoPipeline", FrameRule(),
                          "video", fixed_scheduler=False),
    "svd": Family("svd", None, "StableVideoDiffusionPipeline", FrameRule(), "condition", fixed_scheduler=True),
    "ltx": Family("ltx", "LTXConditionPipeline", "LTXConditionPipeline", FrameRule(8, 1), "condition",
                  fixed_scheduler=True),
    "wan": Family("wan", "WanPipeline", "WanVideoToVideoPipeline", FrameRule(4, 1), "video", fixed_scheduler=True),
}


def family_of(spec) -> Family:
    if spec.family not in FAMILIES:
        raise BadInput(
            f"{spec.id} is a {spec.family} model and makes images, not clips; pick a clip model "
            "(an AnimateDiff motion adapter, SVD, LTX-Video or Wan folder or cached repo id)."
        )
    return FAMILIES[spec.family]


def frame_rule(pipe, family: Family) -> FrameRule:
    """The family's rule, with an AnimateDiff adapter's longest motion sequence as its limit."""
    if family.name == "animatediff":
        adapter_length = getattr(getattr(pipe, "motion_adapter", None), "config", {}).get("motion_max_seq_length")
        return FrameRule(most=adapter_length)
    return family.frames


def size_multiple(pipe) -> int:
    """What a clip's width and height must be multiples of, read from the loaded pipeline."""
    if hasattr(pipe, "unet"):  # AnimateDiff, SVD: the VAE's factor times 2 per UNet level after the first
        return pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
    if hasattr(pipe, "vae_spatial_compression_ratio"):  # LTX: the VAE's factor times the patch
        return pipe.vae_spatial_compression_ratio * pipe.transformer_spatial_patch_size
    return pipe.vae_scale_factor_spatial * pipe.transformer.config.patch_size[1]  # Wan


@dataclass(frozen=True)
class Run:
    """Everything one family call needs, as decided by the request and the model's defaults."""

    prompt: str
    negative_prompt: str
    frames: int
    fps: int
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    image: Any = None  # PIL image for image to clip (and cinemagraphs)
    strength: float = 1.0
    decode_chunk: int = 8
    latents: Any = None  # AnimateDiff: the starting latents (a continued clip's held overlap frames)
    condition_video: Any = None  # LTX, Wan VACE: frames (PIL) the clip starts with, at frame 0 (a continued clip's tail)
    reference_images: Any = None  # Wan VACE: identity references (PIL), VACE's own reference frames
    ip_image: Any = None  # AnimateDiff with an IP-Adapter loaded: the identity reference (PIL)


def make(pipe, family: Family, run: Run, callback: Callable) -> tuple[Any, Any]:
    """Frames (F, H, W, 3 uint8) and final latents of one clip."""
    import torch

    final = {}

    def on_step_end(p, step, timestep, kwargs):
        final["latents"] = kwargs["latents"]
        return callback(p, step, timestep, kwargs)

    common = dict(height=run.height, width=run.width, num_inference_steps=run.steps, output_type="np",
                  generator=torch.Generator("cpu").manual_seed(run.seed), callback_on_step_end=on_step_end,
                  callback_on_step_end_tensor_inputs=["latents"])
    text = dict(prompt=run.prompt, negative_prompt=run.negative_prompt or None, guidance_scale=run.guidance)
    repeated = [run.image] * run.frames if run.image is not None else None
    if family.name == "animatediff":  # decoded here, chunk by chunk straight to uint8 (decode_in_chunks)
        kwargs = dict(common, **text, output_type="latent")
        kwargs.update(video=repeated, strength=run.strength) if repeated else kwargs.update(num_frames=run.frames)
        if run.latents is not None:
            kwargs["latents"] = run.latents
        if run.ip_image is not None:
            kwargs["ip_adapter_image"] = run.ip_image
    elif family.name == "svd":
        kwargs = dict(common, image=run.image, num_frames=run.frames, fps=run.fps,  # the pipeline conditions on fps - 1
                      min_guidance_scale=1.0, max_guidance_scale=run.guidance, decode_chunk_size=run.decode_chunk)
    elif family.name == "ltx":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        kwargs = dict(common, **text, num_frames=run.frames, frame_rate=run.fps,
                      max_sequence_length=min(256, pipe.tokenizer.model_max_length))
        if run.image is not None:
            kwargs["conditions"] = [LTXVideoCondition(image=run.image, frame_index=0, strength=run.strength)]
        if run.condition_video is not None:
            kwargs["conditions"] = [LTXVideoCondition(video=run.condition_video, frame_index=0, strength=1.0)]
    else:  # wan: prompts encoded here, as diffusers' Wan pipelines clean them with ftfy, which we do not ship
        length = min(512, pipe.tokenizer.model_max_length)
        embeds = [wan_prompt_embeds(pipe, p, length) for p in (run.prompt, run.negative_prompt)]
        kwargs = dict(common, prompt_embeds=embeds[0], negative_prompt_embeds=embeds[1],
                      guidance_scale=run.guidance, max_sequence_length=length)
        if is_vace(pipe):
            kwargs.update(num_frames=run.frames, **vace_inputs(run))
        else:
            kwargs.update(video=repeated, strength=run.strength) if repeated else kwargs.update(num_frames=run.frames)
    with torch.inference_mode():
        made = pipe(**kwargs).frames
        frames = decode_in_chunks(pipe, made, run.decode_chunk) if family.name == "animatediff" else to_uint8(made[0])
    latents = final.get("latents")
    if family.name == "ltx" and latents is not None and latents.ndim == 3:
        latents = unpack_ltx_latents(pipe, latents, run)
    if family.name == "wan" and run.reference_images and latents is not None:  # VACE puts them first
        latents = latents[:, :, len(run.reference_images):]
    return frames, latents


def is_vace(pipe) -> bool:
    """A Wan VACE pipeline (engine.models.loader loads VACE folders as one): Wan that also keeps given frames."""
    return type(pipe).__name__ == "WanVACEPipeline"


def vace_inputs(run: Run) -> dict:
    """VACE's video and mask: the frames to keep first (a continued clip's tail, or image to clip's
    image), black in the mask (keep); mid-grey frames after them, white in the mask (generate), as
    VACE's own extension examples give them; the identity references as its reference images."""
    from PIL import Image

    keep = list(run.condition_video) if run.condition_video is not None else [run.image] if run.image is not None else []
    size = (run.width, run.height)
    inputs = {}
    if keep:
        generate = run.frames - len(keep)
        inputs["video"] = [k.resize(size) for k in keep] + [Image.new("RGB", size, (128, 128, 128))] * generate
        inputs["mask"] = [Image.new("L", size, 0)] * len(keep) + [Image.new("L", size, 255)] * generate
    if run.reference_images:
        inputs["reference_images"] = list(run.reference_images)
    return inputs


def to_uint8(frames) -> np.ndarray:
    """A pipeline's float frames in [0, 1] (F, H, W, 3) as uint8, rounded."""
    return (np.clip(np.asarray(frames, dtype=np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)


def decode_in_chunks(pipe, latents, chunk: int) -> np.ndarray:
    """AnimateDiff latents (1, C, F, H, W) decoded `chunk` frames at a time into one uint8 array, so
    a long clip never holds all its frames as floats (diffusers' own path holds them twice). The
    same arithmetic as diffusers' postprocessing plus to_uint8, so the frames are the same."""
    import torch

    count = latents.shape[2]
    frames = None
    for start in range(0, count, chunk):
        with torch.inference_mode():
            video = pipe.decode_latents(latents[:, :, start:start + chunk], decode_chunk_size=chunk)
            part = (video[0].permute(1, 2, 3, 0) / 2 + 0.5).clamp(0, 1).cpu().numpy()  # f, H, W, 3 in [0, 1]
        if frames is None:
            frames = np.empty((count, *part.shape[1:]), dtype=np.uint8)
        frames[start:start + len(part)] = to_uint8(part)
        del video, part
    return frames


def wan_prompt_embeds(pipe, prompt: str, length: int):
    """Wan's T5 prompt embeddings (as WanPipeline._get_t5_prompt_embeds makes them, padding zeroed),
    with whitespace tidied instead of ftfy's text repair."""
    import torch

    ids = pipe.tokenizer([" ".join(prompt.split())], padding="max_length", max_length=length, truncation=True,
                         add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    device = pipe._execution_device
    with torch.inference_mode():
        states = pipe.text_encoder(ids.input_ids.to(device), ids.attention_mask.to(device)).last_hidden_state
    kept = int(ids.attention_mask.gt(0).sum())
    states = states.clone()
    states[:, kept:] = 0
    return states.to(pipe.transformer.dtype)


def unpack_ltx_latents(pipe, latents, run: Run):
    """LTX keeps latents packed as (batch, tokens, channels); unpack to (batch, C, F, H, W)."""
    ratio_t, ratio_s = pipe.vae_temporal_compression_ratio, pipe.vae_spatial_compression_ratio
    frames = (run.frames - 1) // ratio_t + 1
    return pipe._unpack_latents(latents, frames, run.height // ratio_s, run.width // ratio_s,
                                pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size)


def latent_frames_first(latents, family: Family):
    """Latents as (batch, frames, channels, H, W): SVD keeps that order, the others (B, C, F, H, W)."""
    return latents if family.name == "svd" else latents.permute(0, 2, 1, 3, 4)
