"""Clips: text to clip, image to clip, and cinemagraphs (a still whose masked region moves).

One request decides the clip: its seed seeds the family pipeline's CPU generator, so the same
request on the same device gives the same frames bit for bit. The family's own diffusers
pipeline denoises (engine.clips.families), on a per-job view with its own scheduler; progress,
the cheap preview and cancel come through the one diffusers callback adapter (engine.jobs).

A cinemagraph animates `init_image` and pastes every frame back onto the still through the
mask, feathered inwards: outside the mask every frame equals the still bit for bit. `loop`
plays the clip forward and back (0, 1, ..., m, ..., 1), so the step from the last frame to the
first is the clip's own first step, never a jump.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine import edits
from engine.api import ClipRequest, ClipResult
from engine.clips import families, identity
from engine.clips.files import write_clip
from engine.errors import BadInput
from engine.images import load_rgb
from engine.jobs import TaskContext, diffusers_callback
from engine.models import loader
from engine.models.spec import ModelSpec
from engine.preview import clip_frame_previewer
from engine.schedulers import make_scheduler
from engine.tasks.generate import _slug
from engine.tasks.inpaint import feathered_alpha, load_mask


@dataclass(frozen=True)
class ClipModel:
    """The model a clip request runs: `spec`, and for a motion adapter the SD 1.x `base` it runs on."""

    spec: ModelSpec
    base: ModelSpec | None = None

    @property
    def label(self) -> str:
        return f"{self.spec.id} on {self.base.id}" if self.base else self.spec.id

    @property
    def spatial_model(self) -> ModelSpec:
        """The model whose VAE and spatial UNet the clip runs on: the base under an adapter, else spec."""
        return self.base or self.spec


def run(request: ClipRequest, context: TaskContext) -> ClipResult:
    model = resolve_model(request, context.model_cache.registry)
    family = families.family_of(model.spec)
    still, mask = _load_inputs(request)
    references = identity.load_references(request.identity_references)  # a bad one is said before any work
    request = _fill_defaults(request, model, still)
    if family.text_class is None and still is None:
        raise BadInput(f"{model.label} ({family.name}) makes clips from an image; give one with --image.")
    pipe = context.model_cache.clip_pipeline(model.spec, model.base)
    _check_shape(request, pipe, family, model)

    scheduler = None
    if request.scheduler != model.spec.default_scheduler:
        if family.fixed_scheduler:
            raise BadInput(f"{model.label} runs its own {model.spec.default_scheduler} scheduler; leave --scheduler out.")
        scheduler = make_scheduler(request.scheduler, pipe.scheduler.config)
    image = still.resize((request.width, request.height)) if still is not None else None
    kind = "img2clip" if image is not None or family.text_class is None else "txt2clip"
    view = loader.derive_clip_pipeline(pipe, family.name, kind, scheduler)
    strength = request.strength if image is not None else 1.0
    # Wan VACE keeps an image as its first frame and runs every step (no strength)
    steps = _denoising_steps(request, family, image is not None and not families.is_vace(view))
    run_args = families.Run(
        prompt=model_prompt(model.spec, request.prompt), negative_prompt=request.negative_prompt,
        frames=request.frames, fps=request.fps, width=request.width, height=request.height, steps=request.steps,
        guidance=request.guidance, seed=request.seed, image=image, strength=strength,
    )
    preview = step_previewer(view, family, run_args, model)

    context.check_cancelled()
    started = time.perf_counter()
    frames, latents = families.make(view, family, run_args, diffusers_callback(context, steps, preview))
    context.check_cancelled()  # a cancel during the last steps interrupted the pipeline: nothing is written
    seconds = time.perf_counter() - started

    if references:  # the shot's look is its references' (engine.clips.identity), before any paste-back
        frames = identity.match_statistics(frames, identity.statistics(references))
    if mask is not None:
        frames = paste_onto_still(frames, np.asarray(image), mask, request.feather)
    if request.loop:
        frames = forward_and_back(frames)
    latents = families.latent_frames_first(latents, family) if latents is not None else None
    recorded = replace(request, model=model.spatial_model.reference,
                       motion_adapter=model.spec.reference if model.base else None, trust_pickle=False)
    files = write_clip(frames, latents, recorded, Path(request.output_dir), f"{_slug(request.prompt, 32)}-{request.seed}",
                       {"family": family.name, "model": model.label})
    return ClipResult(model=model.label, clip=files, seconds=seconds)


def model_prompt(spec: ModelSpec, prompt: str) -> str:
    """The prompt as `spec` was trained to read it; the request and the clip's record keep the user's."""
    if not spec.still_word:
        return prompt
    from engine.toy.motion_scenes import mark_still  # only a model trained with a still word needs it

    return mark_still(prompt, spec.still_word)


def step_previewer(view, family, run_args, model: ClipModel):
    """The live step preview of a clip job of `model` on `view`, through its image model's latent fit."""
    unpack = (lambda latents: families.unpack_ltx_latents(view, latents, run_args)) if family.name == "ltx" else None
    return clip_frame_previewer(family.name, _latent_channels(view), frames_first=family.name == "svd",
                                unpack=unpack, spec=model.spatial_model)


# --- the model ----------------------------------------------------------------------------


def resolve_model(request: ClipRequest, registry) -> ClipModel:
    """The clip model of a request; a motion adapter with its base, which the request gives
    (`model`) or the adapter's manifest names."""
    trust = request.trust_pickle
    if request.motion_adapter:
        adapter = registry.resolve(request.motion_adapter, trust_pickle=trust)
        if adapter.family != "animatediff" or not _is_motion_adapter(adapter):
            raise BadInput(f"{adapter.id} is not an AnimateDiff motion adapter (a MotionAdapter folder); "
                           "give one with --motion-adapter, or leave it out.")
        base_name = request.model or adapter.base
        if not base_name:
            raise BadInput(_no_base(adapter))
        return ClipModel(adapter, _sd1_base(registry.resolve(base_name, trust_pickle=trust), adapter))
    spec = registry.resolve(request.model, trust_pickle=trust) if request.model else registry.default_clip_model()
    if spec.family == "animatediff" and _is_motion_adapter(spec):
        if not spec.base:
            raise BadInput(_no_base(spec))
        return ClipModel(spec, _sd1_base(registry.resolve(spec.base, trust_pickle=trust), spec))
    if spec.is_image_model:
        raise BadInput(
            f"{spec.id} is an image model ({spec.family}), not a clip model; animate it with a motion adapter "
            f"(--model {spec.id} --motion-adapter ADAPTER) or pick an AnimateDiff, SVD, LTX-Video or Wan model."
        )
    families.family_of(spec)
    return ClipModel(spec)


def _is_motion_adapter(spec: ModelSpec) -> bool:
    return (Path(spec.location) / "config.json").is_file() and not (Path(spec.location) / "model_index.json").is_file()


def _no_base(adapter: ModelSpec) -> str:
    return (f"{adapter.id} is a motion adapter and needs an SD 1.x model to run on: give it with "
            f"--model BASE --motion-adapter {adapter.id}, or name it as \"base\" in the adapter's latent-studio.json.")


def _sd1_base(base: ModelSpec, adapter: ModelSpec) -> ModelSpec:
    if base.family != "sd1":
        raise BadInput(f"{adapter.id} animates SD 1.x models, and {base.id} is a {base.family} model; "
                       "give an SD 1.x base with --model.")
    return base


# --- the request ----------------------------------------------------------------------------


def _load_inputs(request: ClipRequest):
    """The still (image to clip, cinemagraph) and the cinemagraph's mask at the still's size."""
    if request.mask and not request.init_image:
        raise BadInput("A cinemagraph animates a still: give the image with --image as well as --mask.")
    still = load_rgb(request.init_image) if request.init_image else None
    mask = load_mask(request.mask, still.height, still.width) if request.mask else None
    return still, mask


def _fill_defaults(request: ClipRequest, model: ClipModel, still) -> ClipRequest:
    """The request with the model's defaults in every field it left out (what the sidecar records).
    A cinemagraph keeps its still's size, so the still is not resampled before paste-back."""
    spec = model.spec
    native_h, native_w = spec.size() if spec.native_size or not model.base else model.base.size()
    if request.mask and still is not None:
        native_h, native_w = still.height, still.width
    return replace(
        request,
        frames=spec.default_frames if request.frames is None else request.frames,
        fps=spec.default_fps if request.fps is None else request.fps,
        width=native_w if request.width is None else request.width,
        height=native_h if request.height is None else request.height,
        steps=spec.default_steps if request.steps is None else request.steps,
        guidance=spec.default_guidance if request.guidance is None else request.guidance,
        scheduler=request.scheduler or spec.default_scheduler,
    )


def _check_shape(request: ClipRequest, pipe, family: families.Family, model: ClipModel) -> None:
    families.frame_rule(pipe, family).check(request.frames, family.name, model.label)
    multiple = families.size_multiple(pipe)
    if request.width % multiple or request.height % multiple:
        raise BadInput(f"{model.label} makes clips whose width and height are multiples of {multiple}; "
                       f"{request.width}x{request.height} is not (try "
                       f"{max(multiple, request.width // multiple * multiple)}x"
                       f"{max(multiple, request.height // multiple * multiple)}).")


def _denoising_steps(request: ClipRequest, family: families.Family, has_image: bool) -> int:
    """How many steps the pipeline will run: video-to-video families start part-way down."""
    if not (has_image and family.image_mode == "video"):
        return request.steps
    steps = min(int(request.steps * request.strength), request.steps)
    if steps < 1:
        raise BadInput(f"Strength {request.strength:g} of {request.steps} steps leaves no step to run; "
                       "raise --strength or --steps.")
    return steps


def _latent_channels(pipe) -> int:
    config = pipe.vae.config
    return int(getattr(config, "latent_channels", None) or getattr(config, "z_dim", 4))


# --- frames ---------------------------------------------------------------------------------


def paste_onto_still(frames: np.ndarray, still: np.ndarray, mask: np.ndarray, feather: int) -> np.ndarray:
    """Each frame inside the mask (feathered inwards) over the still; outside it, the still itself."""
    import cv2

    height, width = frames.shape[1:3]
    if mask.shape != (height, width):
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    alpha = feathered_alpha(mask, feather)
    box = (0, height, 0, width)
    return np.stack([edits.composite(still, frame, box, alpha) for frame in frames])


def forward_and_back(frames: np.ndarray) -> np.ndarray:
    """The same number of frames, played 0..m then back to 1, so the loop's wrap from the last
    frame to the first is the step from frame 1 to frame 0. An odd count holds the turning frame."""
    count = len(frames)
    if count < 3:
        return frames
    turn = count // 2 if count % 2 == 0 else (count - 1) // 2
    back = np.arange(turn - 1, 0, -1) if count % 2 == 0 else np.arange(turn, 0, -1)
    order = np.concatenate([np.arange(turn + 1), back])
    return frames[order]
