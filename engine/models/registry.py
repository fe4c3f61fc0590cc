"""Find models: bundled ones, local folders, the Hugging Face cache, single .safetensors files.

Resolution order for a name: bundled id -> existing path -> Hugging Face repo id in the local
cache. Nothing here touches the network; a repo that is not cached is reported as not
available with a sentence saying how to get it.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from engine.errors import BadInput, ModelNotFound, StudioError, UnsafeCheckpoint
from engine.models import spec as specs
from engine.models.single_file import (
    FAMILY_CONFIGS, PICKLE_SUFFIXES, default_config_dir, detect_single_file_family, pickle_message,
)
from engine.models.spec import ModelSpec
from engine.paths import bundled_models_dir

DEFAULT_IMAGE_MODEL = "toy-scenes"
DEFAULT_SCORER = "toy-scenes-clip"
DEFAULT_CLIP_MODEL = "toy-scenes-motion"

_PIPELINE_FAMILIES = {
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
    # clip families (engine.clips.families runs them)
    "AnimateDiffPipeline": "animatediff", "AnimateDiffVideoToVideoPipeline": "animatediff",
    "StableVideoDiffusionPipeline": "svd",
    "LTXPipeline": "ltx", "LTXImageToVideoPipeline": "ltx", "LTXConditionPipeline": "ltx",
    "WanPipeline": "wan", "WanImageToVideoPipeline": "wan", "WanVACEPipeline": "wan", "WanVideoToVideoPipeline": "wan",
}


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path} is not readable JSON ({exc}); the model folder looks damaged.") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path} holds {type(data).__name__} JSON, not an object; the model folder looks damaged.")
    return data


# latent-studio.json: key -> (the types its value may have, what it should look like)
_MANIFEST_FIELDS = {
    "id": ((str,), "a name"), "family": ((str,), "a family such as sd1"), "description": ((str,), "text"),
    "native_size": ((list,), "[height, width]"), "default_steps": ((int,), "a whole number of steps"),
    "default_guidance": ((int, float), "a number"), "default_scheduler": ((str,), "a scheduler name"),
    "base": ((str,), "the id or folder of an SD 1.x model"), "default_frames": ((int,), "a whole number of frames"),
    "default_fps": ((int,), "a whole number of frames per second"),
    "still_word": ((str,), "a word"),
}


def _read_manifest(path: Path) -> dict:
    """A model folder's latent-studio.json, with a sentence for any field of the wrong kind."""
    manifest = _read_json(path)
    for key, (types, looks) in _MANIFEST_FIELDS.items():
        value = manifest.get(key)
        wrong = value is not None and (not isinstance(value, types) or isinstance(value, bool))
        if key == "native_size" and not wrong and value is not None:
            wrong = len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        if wrong:
            raise BadInput(f"{path} has {key} {value!r:.40}, which should be {looks}; fix or delete the file.")
    return manifest


def refuse_pickles(folder: Path, trust_pickle: bool, label: str | None = None) -> None:
    """A diffusers folder whose weights are pickles (.bin, .ckpt, ...) would run arbitrary code when
    loaded, exactly like a loose .ckpt: refused with the same sentence unless the user trusts it.
    A component that also has .safetensors weights loads those and is fine."""
    if trust_pickle:
        return
    for component in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:  # a CLIP folder's weights sit at the top
        files = [p for p in component.iterdir() if p.is_file()]
        if any(p.name.endswith(".safetensors") for p in files):
            continue
        pickles = sorted(p for p in files if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            where = Path(label or folder.name, component.relative_to(folder), pickles[0].name)
            raise UnsafeCheckpoint(pickle_message(str(where)))


def detect_folder_family(folder: Path) -> str | None:
    """Family of a diffusers pipeline folder or a CLIP model folder, from configs only."""
    index = folder / "model_index.json"
    if index.is_file():
        class_name = _read_json(index).get("_class_name", "")
        if not isinstance(class_name, str):
            raise BadInput(f"{index} names no pipeline class (_class_name {class_name!r:.40}); the model folder looks damaged.")
        if class_name in _PIPELINE_FAMILIES:
            return _PIPELINE_FAMILIES[class_name]
        if not class_name.startswith("StableDiffusion"):
            return None
        unet_config = folder / "unet" / "config.json"
        unet = _read_json(unet_config) if unet_config.is_file() else {}
        if unet.get("cross_attention_dim") == 1024 or unet.get("use_linear_projection"):
            return "sd2"
        return "sd1"
    config = folder / "config.json"
    if config.is_file():
        data = _read_json(config)
        if "CLIPModel" in (data.get("architectures") or []):
            return "clip"
        if data.get("_class_name") == "MotionAdapter":  # an AnimateDiff motion module, run on an SD 1.x base
            return "animatediff"
    return None


def spec_from_folder(folder: Path, source: str, model_id: str | None = None) -> ModelSpec | None:
    """A spec for a model folder, using its latent-studio.json manifest where present."""
    manifest_path = folder / "latent-studio.json"
    manifest = _read_manifest(manifest_path) if manifest_path.is_file() else {}
    if (folder / "model_index.json").is_file():
        _read_json(folder / "model_index.json")  # damaged ones are refused here, not deep inside diffusers
    family = manifest.get("family") or detect_folder_family(folder)
    if family is None:
        return None
    native = manifest.get("native_size")
    fields = dict(
        id=model_id or manifest.get("id") or folder.name,
        family=family,
        source=source,
        location=str(folder),
        native_size=tuple(native) if native else None,
        description=manifest.get("description", ""),
        draws=str(manifest.get("draws", "")),
        example_prompt=str(manifest.get("example_prompt", "")),
        base=manifest.get("base", ""),
        still_word=manifest.get("still_word", ""),
    )
    for key, name in (("default_steps", "default_steps"), ("default_guidance", "default_guidance"),
                      ("default_scheduler", "default_scheduler"), ("default_frames", "default_frames"),
                      ("default_fps", "default_fps")):
        if key in manifest:
            fields[name] = manifest[key]
    if family in specs.IMAGE_FAMILIES and "default_steps" not in manifest and family == "sdxl":
        fields["default_guidance"] = 5.0
    return ModelSpec(**fields)


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


class ModelRegistry:
    """Lists and resolves models. Holds configuration only; loading is the loader's job."""

    def __init__(
        self,
        bundled_dir: str | Path | None = None,
        local_folders: tuple[str | Path, ...] = (),
        hf_cache_dir: str | Path | None = None,
    ):
        self.bundled_dir = Path(bundled_dir) if bundled_dir else bundled_models_dir()
        self.local_folders = tuple(Path(p) for p in local_folders)
        self.hf_cache_dir = str(hf_cache_dir) if hf_cache_dir else None

    # --- listing -------------------------------------------------------------------------

    def bundled(self) -> list[ModelSpec]:
        return self._scan_folder(self.bundled_dir, specs.BUNDLED)

    def list(self) -> list[ModelSpec]:
        found = self.bundled()
        for folder in self.local_folders:
            found += self._scan_folder(folder, specs.LOCAL)
        found += self._scan_hf_cache()
        return found

    def _scan_folder(self, folder: Path, source: str) -> list[ModelSpec]:
        if not folder.is_dir():
            return []
        found = []
        for child in sorted(folder.iterdir()):
            if child.is_dir():
                try:
                    spec = spec_from_folder(child, source)
                except StudioError as exc:  # listed as unusable with its reason; it never hides the others
                    spec = ModelSpec.unusable(child.name, source, str(child), str(exc))
                if spec is not None:
                    found.append(spec)
            elif child.suffix == ".safetensors":
                try:
                    family = detect_single_file_family(child)
                except StudioError:  # a LoRA, an embedding or a damaged file: not a model to list
                    continue
                found.append(ModelSpec(id=child.stem, family=family, source=specs.SINGLE_FILE, location=str(child)))
        return found

    def _scan_hf_cache(self) -> list[ModelSpec]:
        from huggingface_hub import scan_cache_dir

        try:
            cache = scan_cache_dir(self.hf_cache_dir)
        except Exception:  # no cache folder yet, or one we cannot read: nothing cached
            return []
        found = []
        for repo in sorted(cache.repos, key=lambda r: r.repo_id):
            if repo.repo_type != "model":
                continue
            for revision in repo.revisions:
                if "main" in revision.refs or len(repo.revisions) == 1:
                    try:
                        spec = spec_from_folder(Path(revision.snapshot_path), specs.HF_CACHE, model_id=repo.repo_id)
                    except StudioError as exc:
                        spec = ModelSpec.unusable(repo.repo_id, specs.HF_CACHE, str(revision.snapshot_path), str(exc))
                    if spec is not None:
                        found.append(spec)
                    break
        return found

    # --- resolving -----------------------------------------------------------------------

    def resolve(self, name: str | None, trust_pickle: bool = False) -> ModelSpec:
        """The spec for a bundled id, a path, or a cached Hugging Face repo id."""
        if not name:
            return self.default_image_model()
        for spec in self.bundled():
            if spec.id == name:
                if not spec.available:
                    raise BadInput(spec.problem)
                return spec
        path = Path(os.path.expanduser(name))
        if path.exists():
            return self._resolve_path(path, trust_pickle)
        for folder in self.local_folders:
            candidate = folder / name
            if candidate.exists():
                return self._resolve_path(candidate, trust_pickle)
        if _looks_like_repo_id(name):
            return self._resolve_hf_cache(name, trust_pickle)
        known = ", ".join(s.id for s in self.list()) or "none"
        raise ModelNotFound(
            f"No model called {name!r}: give a bundled id ({known}), a diffusers folder, "
            "a .safetensors file, or a Hugging Face repo id that is in the local cache."
        )

    def _resolve_path(self, path: Path, trust_pickle: bool) -> ModelSpec:
        if path.is_dir():
            spec = spec_from_folder(path, specs.LOCAL)
            if spec is None:
                raise BadInput(
                    f"{path} is not a model folder: expected a diffusers pipeline (model_index.json) "
                    "or a CLIP model (config.json)."
                )
            refuse_pickles(path, trust_pickle)
            return replace(spec, trust_pickle=trust_pickle)
        suffix = path.suffix.lower()
        if suffix in PICKLE_SUFFIXES:
            if not trust_pickle:
                raise UnsafeCheckpoint(pickle_message(path))
            return ModelSpec(id=path.stem, family="sd1", source=specs.SINGLE_FILE, location=str(path),
                             trust_pickle=True)
        if suffix == ".safetensors":
            family = detect_single_file_family(path)
            return ModelSpec(id=path.stem, family=family, source=specs.SINGLE_FILE, location=str(path))
        raise BadInput(f"{path} is not a model: expected a folder or a .safetensors file.")

    def _resolve_hf_cache(self, repo_id: str, trust_pickle: bool = False) -> ModelSpec:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            folder = snapshot_download(repo_id, local_files_only=True, cache_dir=self.hf_cache_dir)
        except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
            raise ModelNotFound(
                f"{repo_id} is not in the local Hugging Face cache, and Latent Studio downloads only "
                f"when you ask: run `huggingface-cli download {repo_id}` or pass a local folder."
            ) from None
        spec = spec_from_folder(Path(folder), specs.HF_CACHE, model_id=repo_id)
        if spec is None:
            raise BadInput(f"{repo_id} is in the cache but is not a supported diffusers pipeline or CLIP model.")
        refuse_pickles(Path(folder), trust_pickle, label=repo_id)
        return replace(spec, trust_pickle=trust_pickle)

    # --- defaults ------------------------------------------------------------------------

    def default_image_model(self) -> ModelSpec:
        bundled = {s.id: s for s in self.bundled()}
        if DEFAULT_IMAGE_MODEL in bundled:
            return bundled[DEFAULT_IMAGE_MODEL]
        raise ModelNotFound(
            "No model given and the bundled toy-scenes model is missing from resources/models; "
            "pass --model with a diffusers folder, a .safetensors file or a cached Hugging Face repo id."
        )

    def default_clip_model(self) -> ModelSpec:
        bundled = {s.id: s for s in self.bundled()}
        if DEFAULT_CLIP_MODEL in bundled:
            return bundled[DEFAULT_CLIP_MODEL]
        raise ModelNotFound(
            f"No clip model given and the bundled motion model {DEFAULT_CLIP_MODEL} is not installed; pass --model "
            "with an SVD, LTX-Video or Wan diffusers folder or cached repo id (get one with `huggingface-cli "
            "download Lightricks/LTX-Video`), or --model SD1_BASE --motion-adapter ADAPTER for AnimateDiff."
        )

    def default_scorer(self) -> ModelSpec | None:
        for spec in self.bundled():
            if spec.id == DEFAULT_SCORER:
                return spec
        return None


def _vae_factor(vae_config) -> int:
    return 2 ** (len(vae_config["block_out_channels"]) - 1)


def size_multiple(vae_config, unet_config) -> int:
    """What an image's width and height must be multiples of: the VAE's scale factor times 2 per
    UNet level after the first, so every downsampling in the UNet halves a whole number of latent
    pixels. Takes the two configs, so a loaded pipeline (sampling.latent_geometry) and a model on
    disk (the studio's size boxes) get the same answer.
    """
    return _vae_factor(vae_config) * 2 ** (len(unet_config["block_out_channels"]) - 1)


def _component_config(spec: ModelSpec, component: str) -> dict | None:
    """A component's config.json: the model's own, else its family's shipped one (what the loader
    builds a single-file checkpoint with); None when neither can be read."""
    folders = [Path(spec.config_dir or spec.location)]
    if spec.family in FAMILY_CONFIGS:
        folders.append(default_config_dir(spec.family))
    for folder in folders:
        try:
            return json.loads((folder / component / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


def vae_scale_factor(spec: ModelSpec) -> int:
    """Pixels per latent pixel for `spec`, read from its VAE config without loading it (8 if unknown)."""
    try:
        return _vae_factor(_component_config(spec, "vae"))
    except (TypeError, KeyError):
        return 8


def image_size_multiple(spec: ModelSpec) -> int:
    """`size_multiple` for a model on disk, without loading it; 64 (SD 1.x, the largest among
    the families) when no config can be read."""
    try:
        return size_multiple(_component_config(spec, "vae"), _component_config(spec, "unet"))
    except (TypeError, KeyError):
        return 64
