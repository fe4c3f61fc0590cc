"""The `latent-studio` command line, run as a user runs it: a subprocess, JSON on stdout."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def cli(*args, env_extra=None, check=True):
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def one_json(proc):
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def test_version():
    from engine import __version__

    assert cli("--version").stdout.strip() == f"latent-studio {__version__}"


def test_models_list_shows_bundled_and_cached_models(kit, tmp_path):
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "models").symlink_to(kit)
    out = one_json(cli("models", "list", "--json", env_extra={"LATENT_STUDIO_RESOURCES": str(resources),
                                                               "HF_HUB_CACHE": str(tmp_path / "hub")}))
    entries = {m["id"]: m for m in out["models"]}
    assert entries["tiny-sd1"] == {"id": "tiny-sd1", "family": "sd1", "kind": "image", "source": "bundled",
                                   "available": True}
    assert entries["tiny-clip"]["family"] == "clip"


def test_models_list_text_lines_up_its_columns(kit, video_kit, tmp_path):
    """The text table: every cell starts under its header, however long the ids and families."""
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "models").symlink_to(kit)
    env = {"LATENT_STUDIO_RESOURCES": str(resources), "HF_HUB_CACHE": str(tmp_path / "hub")}
    listed = one_json(cli("models", "list", "--models-dir", str(video_kit), "--json", env_extra=env))["models"]
    header, *lines = cli("models", "list", "--models-dir", str(video_kit), env_extra=env).stdout.splitlines()
    assert header.split() == ["ID", "FAMILY", "SOURCE", "STATUS"] and len(lines) == len(listed)
    starts = [header.index(name) for name in ("ID", "FAMILY", "SOURCE", "STATUS")] + [None]
    cells = [[line[a:b].strip() for a, b in zip(starts, starts[1:])] for line in lines]
    assert all(line[start - 2:start] == "  " for line in lines for start in starts[1:-1])  # no cell runs over
    assert cells == [[m["id"], m["family"], m["source"], "available" if m["available"] else "missing"]
                     for m in listed]
    assert {"animatediff", "sd1"} <= {m["family"] for m in listed}


def test_generate_regenerate_resample_compare_round_trip(kit, tmp_path):
    out = one_json(cli("generate", "--model", str(kit / "sd1"), "--prompt", "a red circle", "--seed", "7",
                       "--count", "2", "--steps", "3", "--width", "64", "--height", "64", "--grid", "2x2",
                       "--rerank", "--scorer", str(kit / "clip"), "--out", str(tmp_path / "gen"), "--json"))
    assert out["model"] == "tiny-sd1" and out["seconds"] > 0
    assert {image["seed"] for image in out["images"]} == {7, 8}
    first = out["images"][0]
    assert first["grid"]["rows"] == 2 and len(first["grid"]["seeds"]) == 4
    assert out["images"][0]["score"] >= out["images"][1]["score"]

    again = one_json(cli("regenerate", first["path"], "--out", str(tmp_path / "again"), "--json"))
    assert np.array_equal(np.asarray(Image.open(again["images"][0]["path"])), np.asarray(Image.open(first["path"])))

    res = one_json(cli("resample", first["path"], "--block", "1,0", "--count", "2", "--seed", "4",
                       "--out", str(tmp_path / "res"), "--json"))
    assert len(res["images"]) == 2 and all(os.path.isfile(i["path"]) for i in res["images"])
    assert res["task"] == "edit" and all(i["grid"]["rows"] == 2 for i in res["images"])  # printed by api.to_json

    cmp = one_json(cli("compare", first["path"], "--block", "0,1", "--out", str(tmp_path / "cmp"), "--json"))
    assert set(cmp["resample_metrics"]) == {"distortion_radial", "change_inside", "mse_inside", "mse_outside",
                                               "ssim_outside", "seam", "seam_step", "seconds"}
    assert os.path.isfile(cmp["side_by_side"]) and len(cmp["heatmaps"]) == 2

    inp = one_json(cli("inpaint", first["path"], "--block", "0,0", "--prompt", "a blue square",
                       "--out", str(tmp_path / "inp"), "--json"))
    assert os.path.isfile(inp["images"][0]["path"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "--model", "no-such-model", "--prompt", "x"], "No model called"),
        (["resample", "{missing}", "--block", "0,0"], "does not exist"),
        (["generate", "--model", "{ckpt}", "--prompt", "x"], "pickled checkpoint"),
        # argument errors take the same way out, not argparse's usage text
        (["resample", "{missing}", "--block", "1"], "block must look like ROW,COL"),
        (["generate", "--prompt", "x", "--grid", "4y4"], "grid must look like 4x4"),
        (["resample", "{missing}"], "required: --block"),
    ],
)
def test_errors_are_one_line_and_json(tmp_path, args, message):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"pickle")
    args = [a.format(missing=tmp_path / "missing.png", ckpt=ckpt) for a in args]
    proc = cli(*args, "--out", str(tmp_path / "out"), "--json", check=False)
    assert proc.returncode != 0
    assert message in one_json(proc)["error"]
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("latent-studio: error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in proc.stderr


def test_no_model_and_no_bundled_model_names_the_fix(tmp_path):
    proc = cli("generate", "--prompt", "x", "--out", str(tmp_path), "--json", check=False,
               env_extra={"LATENT_STUDIO_RESOURCES": str(tmp_path / "empty")})
    assert proc.returncode != 0 and "--model" in one_json(proc)["error"]


def run_main(capsys, *args):
    """`latent-studio ARGS --json` in this process: (exit code, the one JSON object printed)."""
    from engine.cli import main

    code = main([*args, "--json"])
    return code, one_json(subprocess.CompletedProcess(args, code, capsys.readouterr().out, ""))


@pytest.mark.parametrize("extra", [
    ["--steps", "1", "--guidance", "0"],  # a turbo model's settings: one step, no guidance
    ["--width", "128", "--height", "128"],  # 4 times native a side: the largest without --any-size
    ["--width", "160", "--height", "32", "--any-size"],  # beyond it, when asked for
    ["--seed", str(2**64 - 1)],  # the largest seed torch takes
])
def test_valid_extremes_still_run(kit, tmp_path, capsys, extra):
    code, out = run_main(capsys, "generate", "--model", str(kit / "sd1"), "--prompt", "a cat", "--steps", "2",
                         "--grid", "1x1", "--out", str(tmp_path / "out"), *extra)
    assert code == 0, out
    with Image.open(out["images"][0]["path"]) as image:
        wanted = (int(extra[extra.index("--width") + 1]), int(extra[extra.index("--height") + 1])) \
            if "--width" in extra else (32, 32)
        assert image.size == wanted


def test_models_list_marks_a_damaged_folder_and_lists_the_rest(kit, tmp_path, capsys):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(kit / "sd1", models / "good")
    (models / "bad").mkdir()
    (models / "bad" / "model_index.json").write_text("[]")
    code, out = run_main(capsys, "models", "list", "--models-dir", str(models))
    entries = {m["id"]: m for m in out["models"]}
    assert code == 0 and entries["tiny-sd1"]["available"] is True
    assert entries["bad"]["available"] is False and "model_index.json" in entries["bad"]["problem"]
