"""Continue a clip: clip k+1 of a film, starting where clip k ends (or at a chosen frame of it)
and keeping to the shot's identity references (engine.clips.continuation says how each family
is held to the previous clip's tail; engine.clips.identity how colours are held to the references).

The new clip runs on the previous clip's model, size and fps (its sidecar's request), with the
new prompt and seed; it is written like any clip (engine.clips.files), its sidecar recording the
equivalent clip request and, under "continues", what it continued and from which frame.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PIL import Image

from engine.api import ClipResult, ContinueRequest, to_json
from engine.clips import continuation, families, identity
from engine.clips.files import write_clip
from engine.errors import BadInput
from engine.jobs import TaskContext, diffusers_callback
from engine.models import loader
from engine.tasks import clip as clip_task
from engine.tasks.generate import _slug


def run(request: ContinueRequest, context: TaskContext) -> ClipResult:
    references = identity.load_references(request.identity_references)
    source = continuation.read_source(request.clip, request.from_frame, request.tail_latents)
    previous = source.request
    shot = replace(previous, prompt=request.prompt, negative_prompt=request.negative_prompt,
                   output_dir=request.output_dir, seed=request.seed, init_image=None, mask=None, loop=False,
                   strength=1.0, identity_references=request.identity_references, trust_pickle=request.trust_pickle,
                   steps=request.steps if request.steps is not None else previous.steps,
                   guidance=request.guidance if request.guidance is not None else previous.guidance)
    model = clip_task.resolve_model(shot, context.model_cache.registry)
    family = families.family_of(model.spec)
    new_frames = (request.frames if request.frames is not None
                  else continuation.default_new_frames(family.name, previous.frames or len(source.frames)))
    plan = continuation.plan(family.name, new_frames, request.overlap, source,
                             vace=family.name == "wan" and loader.is_wan_vace(model.spec))
    height, width = source.frames.shape[1:3]
    shot = clip_task._fill_defaults(replace(shot, frames=plan.generated, width=width, height=height), model, None)
    if request.ip_adapter and not references:
        raise BadInput("An IP-Adapter steers the clip toward an identity reference: give one with --reference.")
    pipe = (identity.ip_adapter_pipeline(context.model_cache, model.spec, model.base, request.ip_adapter)
            if request.ip_adapter else context.model_cache.clip_pipeline(model.spec, model.base))
    clip_task._check_shape(shot, pipe, family, model)

    last = Image.fromarray(source.frames[-1])
    view = loader.derive_clip_pipeline(pipe, family.name, "img2clip" if family.name == "svd" else "txt2clip")
    run_args = families.Run(
        prompt=clip_task.model_prompt(model.spec, shot.prompt), negative_prompt=shot.negative_prompt,
        frames=plan.generated, fps=shot.fps, width=width, height=height, steps=shot.steps, guidance=shot.guidance,
        seed=shot.seed,
        image=last if family.name == "svd" else None,
        condition_video=([Image.fromarray(f) for f in source.frames[-plan.overlap:]]
                         if family.name in ("ltx", "wan") else None),
        ip_image=Image.fromarray(references[0]) if request.ip_adapter else None,
        reference_images=[Image.fromarray(r) for r in references] if family.name == "wan" and references else None,
    )
    progress = diffusers_callback(context, shot.steps, clip_task.step_previewer(view, family, run_args, model))
    if family.name == "animatediff":
        hold = continuation.Hold(view.scheduler, continuation.tail_latents(view, source, plan.overlap),
                                 plan.generated, shot.steps, shot.seed, view._execution_device, view.unet.dtype)
        run_args = replace(run_args, latents=hold.start)
        progress = hold.callback(progress)

    context.check_cancelled()
    started = time.perf_counter()
    made, latents = families.make(view, family, run_args, progress)
    context.check_cancelled()
    seconds = time.perf_counter() - started

    frames = made[plan.overlap:]
    if request.correction:
        frames = identity.match_statistics(frames, identity.statistics(references or source.frames))
    latents = families.latent_frames_first(latents, family) if latents is not None else None
    recorded = replace(shot, frames=len(frames), model=model.spatial_model.reference,
                       motion_adapter=model.spec.reference if model.base else None, trust_pickle=False)
    continues = {"clip": source.name, "from_frame": source.chosen, "overlap": plan.overlap,
                 "tail_latents": source.tail_latents is not None and family.name == "animatediff",
                 "correction": request.correction, "request": to_json(continuation.recordable(request))}
    files = write_clip(frames, latents, recorded, Path(request.output_dir), f"{_slug(request.prompt, 32)}-{request.seed}",
                       {"family": family.name, "model": model.label, "continues": continues})
    return ClipResult(model=model.label, clip=files, seconds=seconds)
