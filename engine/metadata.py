"""PNG metadata: an AUTOMATIC1111 `parameters` chunk and our own `latent-studio` chunk.

`parameters` lets the prompt readers people already use show our prompts; `latent-studio`
holds the full request as JSON (grid seeds included), from which the image regenerates exactly.

People share these files, so what is recorded names no local path that gives the user away
(`shareable`): no output folder (regenerating asks where to write), source images and masks
relative to the PNG's own folder, a model under the home folder as `~/...`. Files written
before this recorded absolute paths; they still read as they are.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from engine import __version__
from engine.api import EditSettings, GenerateRequest, GridSeeds, request_from_json, to_json
from engine.atomic import write_new
from engine.errors import BadInput
from engine.schedulers import a1111_name

STUDIO_KEY = "latent-studio"
A1111_KEY = "parameters"
FILE_FIELDS = ("image", "mask", "init_image")  # request fields that name an input file


def a1111_parameters(request: GenerateRequest, model_name: str, width: int, height: int,
                     steps: int, guidance: float, scheduler: str) -> str:
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    grid = request.grid_seeds
    fields = [
        f"Steps: {steps}",
        f"Sampler: {a1111_name(scheduler)}",
        f"CFG scale: {guidance:g}",
        f"Seed: {request.seed}",
        f"Size: {width}x{height}",
        f"Model: {model_name}",
    ]
    if request.init_image:
        fields.append(f"Denoising strength: {request.strength:g}")
    if grid is not None:
        fields.append(f"Latent grid: {grid.rows}x{grid.cols}")
    fields.append(f"Version: latent-studio {__version__}")
    lines.append(", ".join(fields))
    return "\n".join(lines)


def save_png(image, path: str | Path, request: Any, parameters: str, extra: dict | None = None) -> Path:
    """Write `image` atomically as a new PNG with both metadata chunks; return where it went.

    That is `path`, or `NAME-1.png`, `NAME-2.png`, ... when the name is taken: no file is replaced.
    """
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(A1111_KEY, parameters)
    payload = {"request": to_json(shareable(request, Path(path).parent)), "version": __version__}
    if extra:
        payload.update(extra)
    if isinstance(payload.get("settings"), dict) and payload["settings"].get("model"):
        payload["settings"] = {**payload["settings"], "model": _home_relative(payload["settings"]["model"])}
    info.add_text(STUDIO_KEY, json.dumps(payload, sort_keys=True))
    return write_new(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))


def shareable(request: Any, folder: Path) -> Any:
    """`request` as recorded in a file in `folder`: what regenerates the result, no telling paths."""
    changes: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(request)}
    if "output_dir" in names:
        changes["output_dir"] = ""
    for name in FILE_FIELDS:
        if name in names and getattr(request, name):
            changes[name] = _relative_to(getattr(request, name), folder)
    if "model" in names and getattr(request, "model"):
        changes["model"] = _home_relative(request.model)
    settings = getattr(request, "settings", None)
    if isinstance(settings, EditSettings) and settings.model:
        changes["settings"] = dataclasses.replace(settings, model=_home_relative(settings.model))
    return dataclasses.replace(request, **changes)


def _relative_to(path: str, folder: Path) -> str:
    """`path` relative to `folder`; only its name when the way there passes through the root or a
    folder above home (then the relative path would spell out the user's home folder)."""
    source, folder = Path(path).resolve(), folder.resolve()
    common = Path(os.path.commonpath([source, folder]))
    if common == Path(common.anchor) or common in Path.home().resolve().parents:
        return source.name
    return os.path.relpath(source, folder)


def _home_relative(reference: str) -> str:
    """A model path under the home folder as ~/...; ids, repo ids and other paths as they are."""
    path = Path(reference)
    if not path.is_absolute():
        return reference
    try:
        return str(Path("~") / path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return reference


def read_studio_metadata(path: str | Path) -> dict:
    """The `latent-studio` chunk of a PNG as a dict, with a clear error when there is none."""
    from engine.images import open_image

    path = Path(path)
    with open_image(path) as image:
        text = dict(getattr(image, "text", {}) or {}).get(STUDIO_KEY)
    if not text:
        raise BadInput(
            f"{path.name} has no Latent Studio metadata (it was not generated here or its metadata "
            "was stripped), so its seeds are unknown."
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{path.name} has damaged Latent Studio metadata ({exc}).") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path.name} has damaged Latent Studio metadata (not a JSON object).")
    return data


def read_request(path: str | Path):
    """The request that made the image at `path` (generate, resample or inpaint)."""
    data = read_studio_metadata(path)
    try:
        request = request_from_json(data["request"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{Path(path).name} has Latent Studio metadata this version cannot read ({exc}).") from exc
    return _files_from(request, Path(path).parent)


def _files_from(request: Any, folder: Path) -> Any:
    """Input files recorded relative to the PNG's folder, as paths again (absolute ones, from
    older files, stay as they are)."""
    changes = {}
    for name in FILE_FIELDS:
        value = getattr(request, name, None)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            changes[name] = str((folder / value).resolve())
    return dataclasses.replace(request, **changes) if changes else request


class Recorded(NamedTuple):
    """What an image's metadata says about how it was made; empty for images made elsewhere."""

    grid: GridSeeds | None
    settings: EditSettings


def read_recorded(path: str | Path) -> Recorded:
    """The grid and generation settings a PNG records. The one reader of them: edits, the
    window's document and its history all call this. Foreign or damaged metadata reads as none."""
    try:
        data = read_studio_metadata(path)
    except BadInput:
        return Recorded(None, EditSettings())
    grid = settings = None
    try:
        if data.get("grid"):
            grid = GridSeeds.from_json(data["grid"])
        if isinstance(data.get("settings"), dict):
            known = EditSettings.__dataclass_fields__
            settings = EditSettings(**{k: v for k, v in data["settings"].items() if k in known})
    except (AttributeError, KeyError, TypeError, ValueError):
        return Recorded(None, EditSettings())  # metadata from another version or tool: treat as imported
    if settings is None or grid is None:
        try:
            recorded = request_from_json(data["request"])
        except (AttributeError, KeyError, TypeError, ValueError):
            recorded = None
        if isinstance(recorded, GenerateRequest):
            grid = grid or recorded.grid_seeds
            settings = settings or EditSettings(
                prompt=recorded.prompt, negative_prompt=recorded.negative_prompt, model=recorded.model,
                steps=recorded.steps, guidance=recorded.guidance, scheduler=recorded.scheduler,
            )
    return Recorded(grid, settings or EditSettings())
