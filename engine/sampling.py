"""The denoising loop every image task shares, over a diffusers pipeline's own components.

Why our loop and not `pipe(...)`: the latent-grid recipe needs per-cell initial noise, starts
part-way down the schedule for image-to-image and imported images, and a per-step hold of
regions to an original trajectory (block resampling, latent-masked inpainting). Diffusers'
pipelines expose only some of that, and not for every scheduler. The loop below is the same
sequence of calls as StableDiffusion(XL)Pipeline.__call__ (a test checks they agree), built on
the pipeline's encode_prompt, unet and vae. Each job makes its own scheduler from the pipeline's
pristine scheduler config and passes it in: the cached pipeline is shared by every job, so
nothing here assigns to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.errors import BadInput, StudioError
from engine.models.registry import size_multiple

StepHook = Callable[[int, Any, Any], Any]  # (step index, timestep, latents) -> latents


@dataclass
class Conditioning:
    """Prompt embeddings ready for the UNet, batched [uncond, cond] when guidance is on."""

    prompt_embeds: Any
    added_cond_kwargs: dict | None
    guidance: float
    timestep_cond: Any = None

    @property
    def uses_cfg(self) -> bool:
        return self.guidance > 1.0


def latent_geometry(pipe, height: int, width: int) -> tuple[int, int, int]:
    """(channels, latent height, latent width) for an image size, with a clear error if invalid."""
    factor = pipe.vae_scale_factor
    multiple = size_multiple(pipe.vae.config, pipe.unet.config)
    if height % multiple or width % multiple or height <= 0 or width <= 0:
        raise BadInput(f"Width and height must be positive multiples of {multiple} for this model, got {width}x{height}.")
    return pipe.vae.config.latent_channels, height // factor, width // factor


def require_plain_unet(pipe, model: str) -> None:
    """Text-to-image and resampling denoise bare latents; an inpainting UNet wants mask and masked
    image channels too and would fail deep in torch with a shape error, so say it plainly."""
    wanted, got = pipe.vae.config.latent_channels, pipe.unet.config.in_channels
    if got != wanted:
        raise BadInput(
            f"{model} is an inpainting model (its UNet takes {got} input channels, not {wanted}); "
            "use it to inpaint, and pick a text-to-image model to generate or resample."
        )


def encode_conditioning(pipe, family: str, prompt: str, negative: str, guidance: float,
                        height: int, width: int) -> Conditioning:
    import torch

    device = pipe._execution_device
    cfg = guidance > 1.0
    with torch.inference_mode():
        if family == "sdxl":
            embeds, neg_embeds, pooled, neg_pooled = pipe.encode_prompt(
                prompt=prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=cfg,
                negative_prompt=negative or None,
            )
            projection_dim = (
                pipe.text_encoder_2.config.projection_dim if pipe.text_encoder_2 is not None else int(pooled.shape[-1])
            )
            time_ids = pipe._get_add_time_ids(
                (height, width), (0, 0), (height, width), dtype=embeds.dtype, text_encoder_projection_dim=projection_dim
            ).to(device)
            if cfg:
                embeds = torch.cat([neg_embeds, embeds])
                pooled = torch.cat([neg_pooled, pooled])
                time_ids = torch.cat([time_ids, time_ids])
            added = {"text_embeds": pooled, "time_ids": time_ids}
        else:
            embeds, neg_embeds = pipe.encode_prompt(
                prompt, device, 1, cfg, negative_prompt=negative or None
            )
            if cfg:
                embeds = torch.cat([neg_embeds, embeds])
            added = None
        timestep_cond = None
        if getattr(pipe.unet.config, "time_cond_proj_dim", None) is not None:
            scale = torch.tensor(guidance - 1).repeat(1)
            timestep_cond = pipe.get_guidance_scale_embedding(
                scale, embedding_dim=pipe.unet.config.time_cond_proj_dim
            ).to(device=device, dtype=embeds.dtype)
    return Conditioning(embeds, added, guidance, timestep_cond)


def schedule(scheduler, steps: int, strength: float = 1.0, device=None):
    """Set the scheduler for `steps` and return the timesteps from `strength` down to 0."""
    scheduler.set_timesteps(steps, device=device)
    if strength >= 1.0:
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(0)
        return scheduler.timesteps
    # at least one step, so a low strength still does something rather than failing
    kept = max(1, min(int(steps * strength), steps))
    start = (steps - kept) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    return scheduler.timesteps[start:]


def denoise(pipe, scheduler, cond: Conditioning, latents, timesteps, generator=None,
            on_step: Callable[[int, int, Any], None] | None = None, hook: StepHook | None = None,
            extra_channels=None):
    """Run the scheduler from `latents` over `timesteps`; `hook` may rewrite latents after each step.

    `extra_channels` (mask and masked-image latents) are appended to the UNet input for
    inpainting checkpoints, whose UNet takes 9 channels.
    """
    import inspect

    import torch

    step_kwargs = {}
    step_params = inspect.signature(scheduler.step).parameters
    if "generator" in step_params:
        step_kwargs["generator"] = generator
    if "eta" in step_params:
        step_kwargs["eta"] = 0.0
    total = len(timesteps)
    with torch.inference_mode():
        for i, t in enumerate(timesteps):
            model_input = torch.cat([latents] * 2) if cond.uses_cfg else latents
            model_input = scheduler.scale_model_input(model_input, t)
            if extra_channels is not None:
                extra = torch.cat([extra_channels] * 2) if cond.uses_cfg else extra_channels
                model_input = torch.cat([model_input, extra.to(model_input.dtype)], dim=1)
            noise_pred = pipe.unet(
                model_input, t, encoder_hidden_states=cond.prompt_embeds, timestep_cond=cond.timestep_cond,
                added_cond_kwargs=cond.added_cond_kwargs, return_dict=False,
            )[0]
            if cond.uses_cfg:
                uncond, text = noise_pred.chunk(2)
                noise_pred = uncond + cond.guidance * (text - uncond)
            latents = scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=False)[0]
            if hook is not None:
                latents = hook(i, t, latents)
            if on_step is not None:
                on_step(i + 1, total, latents)
    return latents


def initial_latents(pipe, scheduler, noise, init_latents=None, timesteps=None):
    """Scale pure noise for the scheduler, or noise `init_latents` to the first timestep."""
    noise = noise.to(device=pipe._execution_device, dtype=pipe.unet.dtype)
    if init_latents is None:
        return noise * scheduler.init_noise_sigma
    return scheduler.add_noise(init_latents, noise, timesteps[:1])


def encode_image(pipe, image):
    """VAE-encode an RGB PIL image to scaled latents (the distribution mean, so it is deterministic)."""
    import torch

    vae = pipe.vae
    # fp16 VAEs that overflow (SDXL's, force_upcast) encode in float32, as diffusers does
    dtype = torch.float32 if vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False) else vae.dtype
    pixels = pipe.image_processor.preprocess(image).to(device=pipe._execution_device, dtype=dtype)
    original = vae.dtype
    if dtype != original:
        vae.to(dtype)
    try:
        with torch.inference_mode():
            latents = vae.encode(pixels).latent_dist.mean
    finally:
        if dtype != original:
            vae.to(original)
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return ((latents - shift) * vae.config.scaling_factor).to(pipe.unet.dtype)


def decode(pipe, latents) -> np.ndarray:
    """Latents to an HxWx3 uint8 image; a NaN result (fp16 VAE overflow) is retried in float32."""
    import torch

    vae = pipe.vae
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    needs_upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    with torch.inference_mode():
        pixels = _decode_with(vae, latents, shift, torch.float32 if needs_upcast else vae.dtype)
        if not torch.isfinite(pixels).all():
            pixels = _decode_with(vae, latents, shift, torch.float32)
        if not torch.isfinite(pixels).all():
            raise StudioError(
                "The model produced an invalid (NaN) image even with a float32 VAE; try fewer steps, "
                "another scheduler, or LATENT_STUDIO_DEVICE=cpu to rule out the GPU."
            )
    pixels = (pixels[0].float() / 2 + 0.5).clamp(0, 1)
    return (pixels.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)


def _decode_with(vae, latents, shift, dtype):
    original = vae.dtype
    if dtype != original:
        vae.to(dtype)
    try:
        scaled = latents.to(dtype) / vae.config.scaling_factor + shift
        return vae.decode(scaled, return_dict=False)[0]
    finally:
        if dtype != original:
            vae.to(original)


def candidate_progress(context, index: int, count: int, previewer=None):
    """A step callback mapping candidate `index`'s steps onto one bar for all `count` candidates.

    It is also the cancel point between denoising steps; `previewer` (latents -> small RGB
    array) makes the cheap live preview.
    """

    def on_step(step: int, total: int, latents) -> None:
        preview = previewer(latents) if previewer is not None else None
        context.report(index * total + step, count * total, preview)
        context.check_cancelled()

    return on_step
