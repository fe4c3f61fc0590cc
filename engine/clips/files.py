"""A clip on disk, four files sharing one stem, each claimed atomically (engine.atomic.write_new):

- `STEM.mp4`: the playable preview (H.264, yuv420p, even size, +faststart), claimed first, so
  its name decides the stem and two clips never share one;
- `STEM.master.mkv`: the lossless master (FFV1, planar RGB): its decoded frames equal the
  generated ones bit for bit, where the preview's do not;
- `STEM.latents.safetensors`: the final latents of the clip's last frames, so a continued clip
  starts from them without a VAE decode/encode round trip (which drifts colours hop by hop);
- `STEM.clip.json`: the sidecar: the full request (paths relative to it, no local folders)
  and the result; `regenerate` reads it, given the sidecar or the preview beside it.

Encoding goes through the timeline's ffmpeg encoder (engine.timeline.encode), decoding through
its frame reader (engine.timeline.media): one of each.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from engine import __version__
from engine.api import ClipFiles, ClipRequest, request_from_json, to_json
from engine.atomic import candidate_names, write_new, write_text_new
from engine.errors import BadInput
from engine.metadata import _files_from, _home_relative, _relative_to, shareable
from engine.timeline.encode import FORMATS, Encoder, Format, even_size

MASTER = Format("master", ".mkv", "matroska", ("-c:v", "ffv1", "-level", "3", "-pix_fmt", "gbrp"), None, False)
SIDECAR_SUFFIX = ".clip.json"
TAIL_LATENT_FRAMES = 2  # latent frames kept for continuing: the last two carry motion as well as the look


def write_clip(frames: np.ndarray, latents: Any, request: ClipRequest, folder: Path, stem: str,
               meta: dict) -> ClipFiles:
    """Write one clip's four files (frames: F x H x W x 3 uint8) and return where they went."""
    folder.mkdir(parents=True, exist_ok=True)
    count, height, width = frames.shape[:3]
    preview = write_new(folder / f"{stem}.mp4", lambda tmp: _encode(tmp, FORMATS["mp4"], frames, request.fps))
    stem = preview.name[: -len(".mp4")]
    master = write_new(folder / f"{stem}.master.mkv", lambda tmp: _encode(tmp, MASTER, frames, request.fps))
    tail = write_new(folder / f"{stem}.latents.safetensors", lambda tmp: _save_latents(tmp, latents, meta))
    files = ClipFiles(path=str(preview), master=str(master), sidecar="", latents=str(tail), frames=count,
                      fps=request.fps, width=width, height=height, seed=request.seed)
    recorded = {
        "version": __version__,
        "request": to_json(_shareable(request, folder)),
        "result": {**to_json(files), "path": preview.name, "master": master.name, "latents": tail.name,
                   "sidecar": None, **meta},
    }
    sidecar = write_text_new(folder / f"{stem}{SIDECAR_SUFFIX}", json.dumps(recorded, indent=2, sort_keys=True))
    return ClipFiles(**{**to_json(files), "sidecar": str(sidecar)})


def _shareable(request: ClipRequest, folder: Path) -> ClipRequest:
    """As an image records its request (engine.metadata.shareable); the motion adapter is a model too."""
    request = shareable(request, folder)
    if request.motion_adapter:
        request = replace(request, motion_adapter=_home_relative(request.motion_adapter))
    references = tuple(_relative_to(path, folder) for path in request.identity_references)
    return replace(request, identity_references=references)


def _encode(target: Path, fmt: Format, frames: np.ndarray, fps: int) -> None:
    height, width = frames.shape[1:3]
    even_w, even_h = even_size(fmt, width, height)
    with Encoder(target, fmt, even_w, even_h, str(fps)) as encoder:
        for frame in frames:
            encoder.write(frame[:even_h, :even_w])


def _save_latents(target: Path, latents: Any, meta: dict) -> None:
    from safetensors.torch import save_file

    tail = latents[:, -TAIL_LATENT_FRAMES:] if latents is not None else None
    tensors = {"latents": tail.detach().float().cpu().contiguous()} if tail is not None else {}
    save_file(tensors, str(target), metadata={"layout": "batch,frames,channels,height,width",
                                              "family": str(meta.get("family", ""))})


def read_frames(path: str | Path) -> np.ndarray:
    """Every frame of a clip file (the master, or the preview) as F x H x W x 3 uint8."""
    with _frames_of(path) as (ref, reader):
        return np.stack([reader.frame(i).copy() for i in range(ref.frames)])


def read_frame(path: str | Path, index: int | None = None) -> np.ndarray:
    """Frame `index` of a clip file (None: the middle one) as H x W x 3 uint8; BadInput when unreadable."""
    with _frames_of(path) as (ref, reader):
        return reader.frame(ref.frames // 2 if index is None else index).copy()


@contextmanager
def _frames_of(path: str | Path):
    from engine.timeline.media import VideoFrames, probe

    ref = probe(path, "clip")
    reader = VideoFrames(ref)
    try:
        yield ref, reader
    finally:
        reader.close()


def read_latents(path: str | Path):
    from safetensors.torch import load_file

    return load_file(str(path)).get("latents")


def sidecar_of(path: str | Path) -> Path:
    """The sidecar of a clip: `path` itself, or the one beside a clip's preview or master."""
    path = Path(path)
    if path.name.endswith(SIDECAR_SUFFIX):
        return path
    for suffix in (".master.mkv", ".mp4"):
        if path.name.endswith(suffix):
            sidecar = path.with_name(path.name[: -len(suffix)] + SIDECAR_SUFFIX)
            if sidecar.is_file():
                return sidecar
            raise BadInput(f"{path.name} has no {sidecar.name} beside it, so how it was made is unknown; "
                           "regenerate from the clip's sidecar.")
    raise BadInput(f"{path.name} is not a clip: give its {SIDECAR_SUFFIX} sidecar or its .mp4 preview.")


def read_clip_request(path: str | Path) -> ClipRequest:
    """The request that made the clip at `path` (its sidecar or preview), input files as paths again."""
    sidecar = sidecar_of(path)
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        request = request_from_json(data["request"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{sidecar.name} is not a clip sidecar this version can read ({exc}).") from None
    if not isinstance(request, ClipRequest):
        raise BadInput(f"{sidecar.name} records a {request.task} request, not a clip.")
    request = _files_from(request, sidecar.parent)
    references = tuple(path if Path(path).is_absolute() else str((sidecar.parent / path).resolve())
                       for path in request.identity_references)
    return replace(request, identity_references=references)


# the files that travel with a clip's preview: (the sidecar's result field naming it, its suffix)
_COMPANIONS = (("master", ".master.mkv"), ("latents", ".latents.safetensors"))


def is_clip_preview(path: str | Path) -> bool:
    """Whether `path` is a clip's .mp4 preview with its sidecar beside it (a clip made here)."""
    path = Path(path)
    return path.name.endswith(".mp4") and path.with_name(path.name[: -len(".mp4")] + SIDECAR_SUFFIX).is_file()


def copy_clip(preview: str | Path, folder: str | Path) -> Path:
    """The clip whose preview is `preview` copied into `folder` with its master, tail latents and
    sidecar, all under one stem: the preview's, or the first numbered one free for all four files,
    since a sidecar is found by its preview's stem. The copied sidecar names the copies and records
    its input files (and, for a continued clip, the clip it continued) relative to `folder`, so the
    copy continues and regenerates as the original does. Every file is written atomically; a
    failure part way removes what was copied. Returns the copied preview."""
    preview, folder = Path(preview), Path(folder)
    sidecar = sidecar_of(preview)
    request = read_clip_request(sidecar)  # input files as absolute paths, to record again from `folder`
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))
        result = dict(recorded["result"])
        sources = {key: sidecar.parent / str(result[key]) for key, _suffix in _COMPANIONS if result.get(key)}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{sidecar.name} is not a clip sidecar this version can read ({exc}).") from None
    written: list[Path] = []
    try:
        copied = write_new(_free_clip_name(folder / preview.name), partial(shutil.copyfile, preview))
        written.append(copied)
        stem = copied.name[: -len(".mp4")]
        result["path"] = copied.name
        for key, suffix in _COMPANIONS:
            source = sources.get(key)
            if source is not None and source.is_file():
                written.append(write_new(folder / f"{stem}{suffix}", partial(shutil.copyfile, source)))
                result[key] = written[-1].name
            else:  # missing beside the original too: the copy says so where the original would
                result[key] = f"{stem}{suffix}"
        if result.get("continues"):
            result["continues"] = _continues_from(sidecar, result["continues"], folder)
        recorded = {**recorded, "request": to_json(_shareable(request, folder)), "result": result}
        written.append(write_text_new(folder / f"{stem}{SIDECAR_SUFFIX}", json.dumps(recorded, indent=2, sort_keys=True)))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return copied


def _free_clip_name(wanted: Path) -> Path:
    """`wanted` (a preview's path), or the first numbered name beside it whose sidecar and
    companions are free as well (write_new still claims it atomically)."""
    for candidate in candidate_names(wanted):
        stem = candidate.name[: -len(".mp4")]
        names = [candidate.name, f"{stem}{SIDECAR_SUFFIX}", *(f"{stem}{suffix}" for _key, suffix in _COMPANIONS)]
        if not any((wanted.parent / name).exists() for name in names):
            return candidate
    raise AssertionError("unreachable: candidate_names never ends")


def _continues_from(sidecar: Path, continues: dict, folder: Path) -> dict:
    """A continued clip's record of what it continued, its files relative to `folder` instead."""
    from engine.clips.continuation import recordable, recorded_request  # continuation builds on this module

    request = recorded_request(sidecar)
    return {**continues, "request": to_json(recordable(replace(request, output_dir=str(folder))))}
