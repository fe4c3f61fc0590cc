"""Text-to-image and image-to-image: `count` candidates, each from its own latent grid.

Candidate i of a request with seed s uses seed s + i, and its grid seeds derive from that
seed (or are pinned by the request, as regenerate and resample do). Every candidate is
written to disk as a PNG with full metadata the moment it is decoded. When the request asks
for `rerank`, candidates are then scored against the prompt by a CLIP scorer (if one is
available) and returned best first; otherwise no scorer is loaded.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from engine import sampling
from engine.api import GenerateRequest, GenerateResult, ImageResult
from engine.errors import BadInput
from engine.grid import derive_grid_seeds, grid_noise, validate_grid
from engine.images import load_rgb
from engine.jobs import TaskContext
from engine.metadata import a1111_parameters, save_png
from engine.models.spec import ModelSpec
from engine.preview import LatentPreviewer
from engine.schedulers import make_scheduler


def run(request: GenerateRequest, context: TaskContext) -> GenerateResult:
    model_cache = context.model_cache
    spec = model_cache.registry.resolve(request.model, trust_pickle=request.trust_pickle)
    _check_request(request, spec)
    pipe = model_cache.pipeline(spec, "txt2img")
    sampling.require_plain_unet(pipe, spec.id)
    settings = resolve_settings(request, spec)
    channels, latent_h, latent_w = sampling.latent_geometry(pipe, settings.height, settings.width)
    if request.grid_seeds is not None:
        validate_grid(request.grid_seeds.rows, request.grid_seeds.cols, latent_h, latent_w)
    else:
        validate_grid(request.grid_rows, request.grid_cols, latent_h, latent_w)

    scheduler = make_scheduler(settings.scheduler, pipe.scheduler.config)
    init_image = None
    if request.init_image:
        init_image = load_rgb(request.init_image).resize((settings.width, settings.height))

    started = time.perf_counter()
    cond = sampling.encode_conditioning(
        pipe, spec.family, request.prompt, request.negative_prompt, settings.guidance, settings.height, settings.width
    )
    init_latents = sampling.encode_image(pipe, init_image) if init_image is not None else None
    previewer = LatentPreviewer.for_spec(spec)
    output_dir = Path(request.output_dir)
    results = []
    for index in range(request.count):
        context.check_cancelled()
        seed = request.seed + index
        grid = request.grid_seeds or derive_grid_seeds(seed, request.grid_rows, request.grid_cols)
        timesteps = sampling.schedule(scheduler, settings.steps, request.strength if init_latents is not None else 1.0,
                                      device=pipe._execution_device)
        noise = grid_noise(grid, channels, latent_h, latent_w)
        latents = sampling.initial_latents(pipe, scheduler, noise, init_latents, timesteps)
        latents = sampling.denoise(
            pipe, scheduler, cond, latents, timesteps, generator=_step_generator(seed),
            on_step=sampling.candidate_progress(context, index, request.count, previewer),
        )
        context.check_cancelled()
        pixels = sampling.decode(pipe, latents)
        writing = time.perf_counter()
        candidate = replace(
            request, seed=seed, count=1, grid_seeds=grid, grid_rows=grid.rows, grid_cols=grid.cols,
            width=settings.width, height=settings.height, steps=settings.steps,
            guidance=settings.guidance, scheduler=settings.scheduler, model=spec.reference,
            rerank=False, scorer=None,  # one image is made again, with nothing to rank it against
            trust_pickle=False,  # trust is the user's word for this run, never something a file can carry
        )
        path = _write_candidate(pixels, output_dir, candidate, spec)
        results.append(ImageResult(path=str(path), seed=seed, grid=grid))
        context.candidate_ready(index, str(path), seed)
        started += time.perf_counter() - writing  # "seconds" is denoise + decode, not PNG writing
    seconds = time.perf_counter() - started
    if request.rerank:
        results = rank(results, request, model_cache)
    return GenerateResult(model=spec.id, images=tuple(results), seconds=seconds)


@dataclass(frozen=True)
class Settings:
    """The request's optional numbers with the model's defaults filled in."""

    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str


def resolve_settings(request: GenerateRequest, spec: ModelSpec) -> Settings:
    native_h, native_w = spec.size()
    return Settings(
        width=native_w if request.width is None else request.width,  # 0 is refused, never "native"
        height=native_h if request.height is None else request.height,
        steps=spec.default_steps if request.steps is None else request.steps,
        guidance=spec.default_guidance if request.guidance is None else request.guidance,
        scheduler=request.scheduler or spec.default_scheduler,
    )


def _check_request(request: GenerateRequest, spec: ModelSpec) -> None:
    if not spec.is_image_model:
        raise BadInput(f"{spec.id} is a {spec.family} model and cannot make images; pick an image model.")
    if request.grid_seeds is not None and request.count != 1:
        raise BadInput("Pinned grid seeds make exactly one image; use count 1.")


def _step_generator(seed: int):
    """Noise for ancestral schedulers' steps, seeded so the image is reproducible."""
    import torch

    return torch.Generator(device="cpu").manual_seed(seed)


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "image"


def _write_candidate(pixels, output_dir: Path, request: GenerateRequest, spec: ModelSpec) -> Path:
    from PIL import Image

    parameters = a1111_parameters(
        request, spec.id, request.width, request.height, request.steps, request.guidance, request.scheduler
    )
    return save_png(Image.fromarray(pixels), output_dir / f"{_slug(request.prompt)}-{request.seed}.png", request,
                    parameters)


def rank(results: list[ImageResult], request: GenerateRequest, model_cache) -> list[ImageResult]:
    """Score candidates against the prompt and sort them best first, when a scorer is available."""
    registry = model_cache.registry
    scorer_spec = registry.resolve(request.scorer) if request.scorer else registry.default_scorer()
    if scorer_spec is None:
        return results
    from PIL import Image

    scorer = model_cache.scorer(scorer_spec)
    images = []
    for result in results:
        with Image.open(result.path) as image:
            images.append(image.convert("RGB"))
    scores = scorer.score(images, request.prompt)
    scored = [replace(r, score=float(s)) for r, s in zip(results, scores)]
    return sorted(scored, key=lambda r: r.score, reverse=True)
