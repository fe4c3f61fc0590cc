"""Single-file Stable Diffusion checkpoints: recognise them and load them offline.

A single `.safetensors` file in the original LDM/CompVis layout (as model sites distribute
them) holds the UNet, the VAE and the text encoder(s), but no configs, tokenizer or scheduler.
diffusers' `from_single_file` fills those in from a diffusers-layout config folder; we ship
one per family in `resources/configs/` (sd15, sd21, sdxl: configs and tokenizers, no weights),
so loading never needs the network.

Offline guarantees (diffusers 0.42 `from_single_file`):
- a path that is not an existing file is taken for a Hugging Face URL/repo, so we check first;
- a `config` that is not an existing folder is taken for a repo id, and if it is not cached
  diffusers retries with `local_files_only=False`, i.e. downloads, despite our
  `local_files_only=True`; so we only ever pass a folder we checked has a `model_index.json`;
- we never pass `original_config` (the legacy path that fetches YAML and CLIP configs).

Pickled checkpoints (`.ckpt`, `.pt`, `.pth`, `.bin`) can run code when unpickled, so they are
refused unless the caller passes `trust_pickle=True` (the user's explicit `--trust-pickle`).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import BadInput, ModelNotFound, UnsafeCheckpoint

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
SAFETENSORS_SUFFIX = ".safetensors"

# family -> shipped config folder under resources/configs/
FAMILY_CONFIGS = {"sd1": "sd15", "sd2": "sd21", "sdxl": "sdxl"}

# Key names that tell the families apart (the ones diffusers' own model-type inference uses).
SDXL_KEY = "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias"
SDXL_REFINER_KEY = "conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias"
SD2_KEY = "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"
UNET_KEY = "model.diffusion_model.input_blocks.0.0.weight"


def pickle_message(name: str | Path) -> str:
    """The one sentence refusing a pickled checkpoint, loose or inside a model folder."""
    name = name.name if isinstance(name, Path) else name
    return (
        f"{name} is a pickled checkpoint, which can run arbitrary code when loaded; "
        "convert it to .safetensors, or pass --trust-pickle if you trust its source."
    )


def _read_header(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors header, without reading any weights."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as exc:  # SafetensorError, OSError, ... : anything unreadable is bad input
        raise BadInput(
            f"{path.name} is not a readable .safetensors file ({exc}); "
            "it may be corrupt or incomplete: download it again."
        ) from exc


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise ModelNotFound(f"Checkpoint {path} does not exist; check the path.")


def detect_single_file_family(path: str | Path) -> str:
    """"sd1", "sd2" or "sdxl" for a single-file `.safetensors` checkpoint (header only)."""
    path = Path(path)
    _check_exists(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeCheckpoint(pickle_message(path))
    return family_from_shapes(_read_header(path), path.name)


def family_from_shapes(shapes: dict[str, tuple[int, ...]], name: str = "the checkpoint") -> str:
    """The family of an original-layout checkpoint, given its tensor names and shapes."""
    if SDXL_KEY in shapes:
        return "sdxl"
    if SDXL_REFINER_KEY in shapes:
        raise BadInput(f"{name} is an SDXL refiner checkpoint; only SDXL base models can make images from text.")
    if SD2_KEY in shapes and tuple(shapes[SD2_KEY])[-1] == 1024:
        return "sd2"
    if UNET_KEY in shapes:
        return "sd1"
    raise BadInput(
        f"{name} is not a Stable Diffusion checkpoint (no UNet weights in the original layout); "
        "expected a single-file SD 1.x, SD 2.x or SDXL .safetensors model."
    )


def _check_family(family: str) -> None:
    if family not in FAMILY_CONFIGS:
        raise BadInput(f"No single-file loader for {family!r} models; expected one of {', '.join(FAMILY_CONFIGS)}.")


def default_config_dir(family: str) -> Path:
    """The shipped diffusers config folder for a family's single-file checkpoints."""
    from engine.paths import shipped_configs_dir

    _check_family(family)
    return shipped_configs_dir() / FAMILY_CONFIGS[family]


def load_single_file(
    path: str | Path,
    family: str,
    config_dir: str | Path | None = None,
    torch_dtype=None,
    trust_pickle: bool = False,
):
    """A diffusers text-to-image pipeline (StableDiffusion[XL]Pipeline) from one checkpoint file.

    `config_dir` is a diffusers-layout folder (model_index.json and per-component configs,
    tokenizers, scheduler) describing the checkpoint's architecture; it defaults to the shipped
    config for `family`. Nothing is downloaded.
    """
    path = Path(path)
    _check_exists(path)
    _check_family(family)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise UnsafeCheckpoint(pickle_message(path))
    else:
        detected = detect_single_file_family(path)  # BadInput when not a readable SD safetensors file
        if path.suffix != SAFETENSORS_SUFFIX:
            # diffusers picks the loader by the exact extension; anything else goes to torch.load.
            raise BadInput(f"{path.name} is a safetensors file; rename it to end in {SAFETENSORS_SUFFIX} to load it.")
        if config_dir is None and detected != family:
            raise BadInput(f"{path.name} looks like a {detected} checkpoint, not {family}; load it as {detected}.")

    config = Path(config_dir) if config_dir is not None else default_config_dir(family)
    if not (config / "model_index.json").is_file():
        # Never hand diffusers a config it cannot find locally: it would go to the hub for it.
        raise ModelNotFound(f"The model config folder {config} is missing or incomplete (no model_index.json).")

    _quiet_loading()
    import diffusers
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    cls = diffusers.StableDiffusionXLPipeline if family == "sdxl" else diffusers.StableDiffusionPipeline
    extra = {} if family == "sdxl" else {"safety_checker": None, "requires_safety_checker": False}
    try:
        pipe = cls.from_single_file(
            str(path), config=str(config), local_files_only=True, torch_dtype=torch_dtype, **extra
        )
    except (SingleFileComponentError, OSError, ValueError, RuntimeError, KeyError) as exc:
        message = (getattr(exc, "message", None) or str(exc)).strip()
        if "meta tensor" in message:  # a weight the config expects is not in the file
            message = "the file lacks some of the weights this architecture needs"
        first_line = message.splitlines()[0] if message else type(exc).__name__
        raise BadInput(f"Could not load {path.name} as a {family} checkpoint: {first_line}") from exc
    _check_complete(pipe, path, family)
    return pipe


def _check_complete(pipe, path: Path, family: str) -> None:
    """diffusers leaves weights a checkpoint lacks on the meta device instead of failing."""
    import torch

    for name, component in pipe.components.items():
        if not isinstance(component, torch.nn.Module):
            continue
        missing = [k for k, v in component.state_dict().items() if v.device.type == "meta"]
        if missing:
            raise BadInput(
                f"{path.name} does not fit the {family} architecture: its {name} lacks "
                f"{len(missing)} weights (e.g. {missing[0]})."
            )


def _quiet_loading() -> None:
    """No progress bars while loading: they would interleave with our own progress and JSON."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
