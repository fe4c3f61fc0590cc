"""A clip on disk: the lossless master decodes to the frames bit for bit, the preview is a
playable H.264 yuv420p MP4 with even sides and its index up front, the tail latents and the
sidecar are written, nothing local leaks into the sidecar, and no clip replaces another."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from engine.api import ClipRequest
from engine.clips.files import TAIL_LATENT_FRAMES, read_clip_request, read_frames, read_latents, sidecar_of, write_clip
from engine.errors import BadInput
from engine.timeline.media import ffmpeg_exe


def _frames(count=6, height=22, width=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def _write(tmp_path, frames, **changes):
    import torch

    fields = dict(prompt="a cat", output_dir=str(tmp_path), model="tiny-ltx", frames=len(frames), fps=12, seed=5,
                  init_image=str(tmp_path / "still.png"), identity_references=(str(tmp_path / "refs" / "face.png"),))
    fields.update(changes)
    request = ClipRequest(**fields)
    latents = torch.arange(1 * 3 * 4 * 2 * 2, dtype=torch.float32).reshape(1, 3, 4, 2, 2)  # B, F, C, H, W
    return request, write_clip(frames, latents, request, tmp_path, "a-cat-5", {"family": "ltx"})


def test_the_master_decodes_to_the_frames_bit_for_bit(tmp_path):
    frames = _frames()
    _, files = _write(tmp_path, frames)
    assert np.array_equal(read_frames(files.master), frames)
    assert (files.frames, files.width, files.height, files.fps, files.seed) == (6, 30, 22, 12, 5)


def test_the_preview_is_h264_yuv420p_even_sided_with_faststart(tmp_path):
    frames = _frames(height=21, width=31)  # odd sides: yuv420p needs even ones
    _, files = _write(tmp_path, frames)
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", files.path], capture_output=True, text=True).stderr
    assert "h264" in info and "yuv420p" in info and "30x20" in info, info
    data = open(files.path, "rb").read()
    assert data.index(b"moov") < data.index(b"mdat"), "no +faststart: the index sits after the media"
    decoded = read_frames(files.path)
    assert decoded.shape == (6, 20, 30, 3)
    assert np.abs(decoded.astype(int) - frames[:, :20, :30].astype(int)).mean() < 60  # lossy, but these frames


def test_the_tail_latents_are_the_last_latent_frames(tmp_path):
    _, files = _write(tmp_path, _frames())
    tail = read_latents(files.latents)
    assert tail.shape == (1, TAIL_LATENT_FRAMES, 4, 2, 2)
    assert float(tail[0, -1, -1, -1, -1]) == 1 * 3 * 4 * 2 * 2 - 1  # the very last latent value is kept


def test_the_sidecar_regenerates_the_request_and_names_no_local_folder(tmp_path):
    request, files = _write(tmp_path, _frames())
    text = open(files.sidecar, encoding="utf-8").read()
    assert str(tmp_path) not in text, "the sidecar spells out a local folder"
    recorded = json.loads(text)
    assert recorded["result"]["master"] == "a-cat-5.master.mkv" and recorded["request"]["output_dir"] == ""
    again = read_clip_request(files.path)  # the preview leads to its sidecar
    assert again == read_clip_request(files.sidecar)
    assert again.init_image == str(tmp_path / "still.png") and again.frames == request.frames
    assert again.identity_references == (str(tmp_path / "refs" / "face.png"),)
    assert again.seed == request.seed and again.model == request.model


def test_a_second_clip_of_the_same_name_takes_a_new_one(tmp_path):
    _, first = _write(tmp_path, _frames(seed=1))
    _, second = _write(tmp_path, _frames(seed=2))
    assert len({first.path, second.path, first.master, second.master, first.sidecar, second.sidecar}) == 6
    assert np.array_equal(read_frames(first.master), _frames(seed=1))


def test_regenerate_refuses_what_is_not_a_clip(tmp_path):
    lone = tmp_path / "lone.mp4"
    lone.write_bytes(b"")
    with pytest.raises(BadInput, match="no lone.clip.json beside it"):
        sidecar_of(lone)
    with pytest.raises(BadInput, match="is not a clip"):
        sidecar_of(tmp_path / "photo.png")
