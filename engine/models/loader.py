"""Turn a ModelSpec into a live diffusers pipeline (or a CLIP scorer), offline.

Only this module and the cache import diffusers' pipeline classes, and only when called.
"""

from __future__ import annotations

import warnings

from engine.errors import BadInput, ModelNotFound
from engine.models import spec as specs
from engine.models.spec import ModelSpec

# family -> (text-to-image, image-to-image, inpaint) diffusers class names
PIPELINE_CLASSES = {
    "sd1": ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline"),
    "sd2": ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline"),
    "sdxl": ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline"),
}
PIPELINE_KINDS = ("txt2img", "img2img", "inpaint")


def pipeline_class(family: str, kind: str):
    import diffusers

    if family not in PIPELINE_CLASSES:
        raise BadInput(f"{family!r} models cannot make images; pick an image model (sd1, sd2 or sdxl family).")
    return getattr(diffusers, PIPELINE_CLASSES[family][PIPELINE_KINDS.index(kind)])


def load_text_to_image(spec: ModelSpec, device: str, dtype):
    """Load the family's text-to-image pipeline for `spec`, moved to `device`, progress bars off."""
    if not spec.available:
        raise ModelNotFound(f"{spec.id} is not available on this machine.")
    if spec.source == specs.SINGLE_FILE:
        from engine.models.single_file import load_single_file

        pipe = load_single_file(
            spec.location, spec.family, config_dir=spec.config_dir, torch_dtype=dtype,
            trust_pickle=spec.trust_pickle,
        )
    else:
        _quiet_loading()
        cls = pipeline_class(spec.family, "txt2img")
        extra = {"safety_checker": None, "requires_safety_checker": False} if spec.family != "sdxl" else {}
        try:
            with warnings.catch_warnings():
                # newer diffusers renamed torch_dtype to dtype; the old name works everywhere we support
                warnings.simplefilter("ignore", FutureWarning)
                # safetensors only, unless the user trusted this folder's pickles (the registry refuses
                # them otherwise); diffusers would fall back to a pickled .bin on its own
                pipe = cls.from_pretrained(spec.location, torch_dtype=dtype, local_files_only=True,
                                           use_safetensors=None if spec.trust_pickle else True, **extra)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise BadInput(f"Could not load {spec.id} from {spec.location}: {exc}") from exc
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _quiet_loading() -> None:
    """Loading progress bars would interleave with our own progress and the CLI's JSON."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def derive_pipeline(base, family: str, kind: str):
    """An image-to-image or inpaint pipeline sharing `base`'s components (no extra memory)."""
    if kind == "txt2img":
        return base
    derived = pipeline_class(family, kind).from_pipe(base)
    derived.set_progress_bar_config(disable=True)
    return derived


def load_scorer(spec: ModelSpec, device: str):
    from engine.scoring import ClipScorer

    if spec.family != "clip":
        raise BadInput(f"{spec.id} is a {spec.family} model, not a CLIP scorer.")
    return ClipScorer.load(spec.location, device=device)


def module_bytes(obj) -> int:
    """Bytes held by the parameters and buffers of every torch module reachable from `obj`."""
    import torch

    modules = []
    if isinstance(obj, torch.nn.Module):
        modules.append(obj)
    else:
        components = getattr(obj, "components", None) or vars(obj)
        modules += [m for m in components.values() if isinstance(m, torch.nn.Module)]
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


def weights_on_disk(spec: ModelSpec) -> int:
    """Bytes of the model's weight files, an estimate of what loading it will take."""
    from pathlib import Path

    location = Path(spec.location)
    if location.is_file():
        return location.stat().st_size
    if not location.is_dir():
        return 0
    return sum(p.stat().st_size for p in location.rglob("*.safetensors"))


def load_clip_pipeline(spec: ModelSpec, device: str, dtype, base: ModelSpec | None = None):
    """The family's text-to-clip pipeline (image-to-clip for SVD) for `spec`; an AnimateDiff motion
    adapter is put on `base`'s SD 1.x components."""
    import diffusers

    from engine.clips.families import family_of

    if not spec.available:
        raise ModelNotFound(f"{spec.id} is not available on this machine.")
    family = family_of(spec)
    _quiet_loading()
    safetensors = None if spec.trust_pickle else True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            if family.name == "animatediff" and base is not None:
                adapter = diffusers.MotionAdapter.from_pretrained(spec.location, torch_dtype=dtype,
                                                                  local_files_only=True, use_safetensors=safetensors)
                sd = load_text_to_image(base, "cpu", dtype)
                pipe = diffusers.AnimateDiffPipeline.from_pipe(sd, motion_adapter=adapter, torch_dtype=dtype,
                                                               **_adapter_text_side(spec, dtype, safetensors))
                _adapter_cross_attention(spec, pipe.unet)
                _adapter_motion_text(spec, pipe.unet)
            else:
                cls = getattr(diffusers, WAN_VACE if family.name == "wan" and is_wan_vace(spec)
                              else family.text_class or family.image_class)
                pipe = cls.from_pretrained(spec.location, torch_dtype=dtype, local_files_only=True,
                                           use_safetensors=safetensors)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise BadInput(f"Could not load {spec.id} from {spec.location}: {exc}") from exc
    if family.name in ("ltx", "wan"):
        # decode in spatial tiles (and LTX in frame chunks): a long clip's decode then needs memory for
        # a tile, not the whole clip at once; AnimateDiff and SVD decode in chunks of frames (families.Run)
        pipe.vae.enable_tiling()
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


WAN_VACE = "WanVACEPipeline"


def is_wan_vace(spec: ModelSpec) -> bool:
    """Whether a Wan folder is a VACE model, which also takes frames to keep, a mask and reference
    images: its model_index.json names WanVACEPipeline or a WanVACETransformer3DModel, as the
    Wan2.1-VACE diffusers repos do (a folder or a cached repo alike)."""
    import json
    from pathlib import Path

    try:
        index = json.loads((Path(spec.location) / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    transformer = index.get("transformer") if isinstance(index, dict) else None
    return index.get("_class_name") == WAN_VACE or (
        isinstance(transformer, list) and "WanVACETransformer3DModel" in transformer)


ADAPTER_CROSS_ATTENTION = "cross_attention.safetensors"


def _adapter_cross_attention(spec: ModelSpec, unet) -> None:
    """A motion adapter folder may carry tuned text projections of its base's spatial cross-attention
    (attn2.to_k / to_v, by UNetMotionModel's names): the bundled toy-scenes-motion does, since frozen
    ones gave its motion words no way into the picture (engine.toy.training.train_motion)."""
    from pathlib import Path

    from safetensors.torch import load_file

    path = Path(spec.location) / ADAPTER_CROSS_ATTENTION
    if not path.is_file():
        return
    tuned = load_file(str(path))
    own = unet.state_dict()
    unknown = sorted(set(tuned) - set(own))
    if unknown or any(own[k].shape != v.shape for k, v in tuned.items() if k in own):
        raise BadInput(f"{spec.id}'s {ADAPTER_CROSS_ATTENTION} does not fit its base's UNet "
                       f"({unknown[0] if unknown else 'a shape differs'}); re-export the adapter for this base.")
    unet.load_state_dict({k: v.to(own[k].dtype) for k, v in tuned.items()}, strict=False)


def _adapter_motion_text(spec: ModelSpec, unet) -> None:
    """A motion adapter folder may carry motion-text conditioning, the prompt read in front of each
    motion module (engine.models.motion_text): the bundled toy-scenes-motion does."""
    from pathlib import Path

    from engine.models.motion_text import WEIGHTS_NAME, attach_from_file

    path = Path(spec.location) / WEIGHTS_NAME
    if not path.is_file():
        return
    try:
        attach_from_file(unet, path)
    except ValueError as exc:
        raise BadInput(f"{spec.id}'s {WEIGHTS_NAME} does not fit its base's UNet ({exc}); "
                       "re-export the adapter for this base.") from exc


def _adapter_text_side(spec: ModelSpec, dtype, safetensors) -> dict:
    """A motion adapter folder may carry its own text encoder and tokenizer, used in place of its
    base's: the bundled toy-scenes-motion does, since its motion words are not in toy-scenes'
    vocabulary (engine.toy.training.train_motion)."""
    from pathlib import Path

    folder = Path(spec.location)
    if not ((folder / "text_encoder").is_dir() and (folder / "tokenizer").is_dir()):
        return {}
    from transformers import CLIPTextModel, CLIPTokenizer

    return {"text_encoder": CLIPTextModel.from_pretrained(folder / "text_encoder", torch_dtype=dtype,
                                                          local_files_only=True, use_safetensors=safetensors),
            "tokenizer": CLIPTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)}


def derive_clip_pipeline(base, family_name: str, kind: str, scheduler=None):
    """A per-job view of a loaded clip pipeline: the same weights, the class for `kind`
    ("txt2clip" or "img2clip") and the job's own scheduler, so no job changes the cached one."""
    import diffusers

    from engine.clips.families import FAMILIES

    family = FAMILIES[family_name]
    name = family.image_class if kind == "img2clip" else (family.text_class or family.image_class)
    if type(base).__name__ == WAN_VACE:  # VACE makes both kinds: an image is its first frame to keep
        name = WAN_VACE
    components = dict(base.components)
    components["scheduler"] = scheduler if scheduler is not None else type(base.scheduler).from_config(
        base.scheduler.config)
    cls = getattr(diffusers, name)
    wanted = set(inspect_parameters(cls))
    view = cls(**{k: v for k, v in components.items() if k in wanted})
    view.set_progress_bar_config(disable=True)
    return view


def inspect_parameters(cls) -> list[str]:
    import inspect

    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
