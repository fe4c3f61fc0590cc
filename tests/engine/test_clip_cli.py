"""`latent-studio clip` and `regenerate` of a clip, run as a user runs them (tests/engine/test_cli.py's way)."""

from __future__ import annotations

import numpy as np

from engine.clips.files import read_frames
from test_cli import cli, one_json  # tests/engine is on the path (pytest prepends it)


def test_clip_then_regenerate_from_its_preview_gives_the_same_frames(video_kit, tmp_path):
    out = one_json(cli("clip", "--prompt", "a red cat", "--model", str(video_kit / "sd1"), "--motion-adapter",
                       str(video_kit / "animatediff"), "--frames", "4", "--steps", "2", "--seed", "9", "--fps", "6",
                       "--out", str(tmp_path / "one"), "--json"))
    clip = out["clip"]
    assert {"path", "master", "sidecar", "frames", "fps", "width", "height", "seed"} <= set(clip)
    assert (clip["frames"], clip["fps"], clip["width"], clip["height"], clip["seed"]) == (4, 6, 32, 32, 9)
    assert out["seconds"] > 0 and clip["path"].endswith(".mp4")
    again = one_json(cli("regenerate", clip["path"], "--out", str(tmp_path / "two"), "--json"))
    assert again["clip"]["seed"] == 9 and again["clip"]["master"] != clip["master"]
    assert np.array_equal(read_frames(again["clip"]["master"]), read_frames(clip["master"]))


def test_clip_without_a_model_says_how_to_get_one(tmp_path):
    proc = cli("clip", "--prompt", "a cat", "--out", str(tmp_path), "--json", check=False,
               env_extra={"LATENT_STUDIO_RESOURCES": str(tmp_path / "none")})
    assert proc.returncode == 2
    error = one_json(proc)
    assert error["kind"] == "model_not_found" and "--model" in error["error"] and "huggingface-cli" in error["error"]
    assert not any(tmp_path.iterdir())
