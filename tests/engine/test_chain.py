"""`latent-studio chain` and `continue`, run as a user runs them (tests/engine/test_cli.py's way)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.clips.files import read_frames
from test_cli import cli, one_json  # tests/engine is on the path (pytest prepends it)


def _models(video_kit) -> list[str]:
    return ["--model", str(video_kit / "sd1"), "--motion-adapter", str(video_kit / "animatediff")]


@pytest.fixture(scope="module")
def made_chain(video_kit, tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    pixels = np.full((32, 32, 3), 128, np.uint8)
    pixels[8:24, 8:24] = (220, 30, 30)
    Image.fromarray(pixels).save(root / "red.png")
    shots = root / "shots.txt"
    shots.write_text("# a red square\na red cat\na red cat walking | red.png\n\na red cat running | | 3\n")
    out = root / "out"
    report = one_json(cli("chain", "--shots", str(shots), *_models(video_kit), "--frames", "2", "--steps", "2",
                          "--seed", "4", "--out", str(out), "--json"))
    return out, report


def test_chain_writes_every_clip_a_preview_and_the_measures_at_each_cut(made_chain):
    out, report = made_chain
    clips = report["clips"]
    assert [c["clip"]["frames"] for c in clips] == [2, 2, 3]
    assert [c["clip"]["seed"] for c in clips] == [4, 5, 6]
    assert all(Path(c["clip"]["master"]).is_file() and Path(c["clip"]["sidecar"]).is_file() for c in clips)
    assert len(report["cuts"]) == 2 and {"ssim", "histogram", "jump", "motion"} <= set(report["cuts"][0])
    assert len(read_frames(report["preview"])) == 7
    assert report["hops"][0]["drift"]["colour"] == 0.0


def test_redo_k_leaves_the_clips_before_it_byte_identical(made_chain, video_kit):
    out, report = made_chain
    before = {c["clip"]["master"]: Path(c["clip"]["master"]).read_bytes() for c in report["clips"][:1]}
    again = one_json(cli("chain", "--redo", "2", "--seed", "77", "--out", str(out), "--json"))
    assert again["clips"][0] == report["clips"][0]
    assert {m: Path(m).read_bytes() for m in before} == before
    assert again["clips"][1]["clip"]["seed"] == 77 and again["clips"][1]["clip"]["master"] != report["clips"][1]["clip"]["master"]
    assert again["clips"][2]["clip"]["master"] != report["clips"][2]["clip"]["master"]  # re-conditioned on the new 2
    assert again["clips"][2]["clip"]["seed"] == 6


def test_continue_from_a_frame_with_a_reference_prints_the_clip_and_its_cut(made_chain, tmp_path):
    out, report = made_chain
    first = report["clips"][0]["clip"]
    made = one_json(cli("continue", first["path"], "--prompt", "a red cat turning", "--from-frame", "0",
                        "--reference", str(out.parent / "red.png"), "--frames", "2", "--seed", "3",
                        "--out", str(tmp_path), "--json"))
    assert made["clip"]["frames"] == 2 and made["clip"]["seed"] == 3
    assert {"ssim", "histogram", "jump", "motion"} <= set(made["cut"])


def test_bad_input_gets_one_sentence(made_chain, tmp_path):
    out, report = made_chain
    first = report["clips"][0]["clip"]
    lone = tmp_path / "lone.mp4"
    shutil.copyfile(first["path"], lone)
    text = tmp_path / "notes.png"
    text.write_text("words")
    cases = [
        (["continue", str(lone), "--prompt", "x"], "has no lone.clip.json beside it"),
        (["continue", first["sidecar"], "--prompt", "x", "--reference", str(text)], "Identity reference notes.png"),
        (["continue", first["sidecar"], "--prompt", "x", "--from-frame", "9"], "frame 9 is not one of them"),
        (["chain", "--redo", "9", "--out", str(out)], "there is no shot 9 to redo"),
        (["continue", first["sidecar"], "--prompt", "x", "--overlap", "7"], "an overlap of 7 needs that many"),
    ]
    for args, words in cases:
        proc = cli(*args, "--out", str(tmp_path / "never"), "--json", check=False) if args[0] == "continue" \
            else cli(*args, "--json", check=False)
        assert proc.returncode != 0
        error = one_json(proc)
        assert words in error["error"], error
        assert error["error"].count(". ") == 0 or error["error"].endswith(".")
    assert not (tmp_path / "never").exists()


def test_regenerate_of_a_continued_clip_continues_its_clip_again(made_chain, tmp_path):
    """Shot 2 as the chain first made it (a redo writes new files and removes none): its sidecar
    records the continue, so regenerate continues shot 1 again and makes the same frames bit for bit."""
    out, report = made_chain
    second = report["clips"][1]["clip"]
    again = one_json(cli("regenerate", second["path"], "--out", str(tmp_path), "--json"))
    assert again["clip"]["master"] != second["master"] and "cut" in again
    assert np.array_equal(read_frames(again["clip"]["master"]), read_frames(second["master"]))


def test_a_shots_file_reads_one_shot_a_line_and_says_what_is_wrong(tmp_path):
    from engine.clips.chain import Shot, read_shots
    from engine.errors import BadInput

    good = tmp_path / "shots.txt"
    good.write_text("# film\na red circle moving right\n\na red circle moving up | ref.png\n... moving down | | 16\n")
    assert read_shots(good) == [Shot("a red circle moving right"),
                                Shot("a red circle moving up", str((tmp_path / "ref.png").resolve())),
                                Shot("... moving down", None, 16)]
    cases = {"| ref.png\n": "line 1: a shot is `prompt | reference image | frames`",
             "a | b | 3 | 4\n": "line 1: a shot is",
             "a\na | | many\n": "line 2: the frame count 'many' is not a whole number",
             "# only a comment\n": "has no shots"}
    for text, words in cases.items():
        good.write_text(text)
        with pytest.raises(BadInput, match=words.replace("|", r"\|")):
            read_shots(good)
    with pytest.raises(BadInput, match="cannot be read"):
        read_shots(tmp_path / "missing.txt")


def test_an_ltx_chain_continues_in_its_frame_step(video_kit, tmp_path):
    """LTX-Video makes 8k+1 frames and continues with 8k: `--frames 9` is the first clip's length,
    and each continuation then makes 8 new frames (a chain-wide 9 was refused at shot 2)."""
    shots = tmp_path / "shots.txt"
    shots.write_text("a red cat\na red cat walking\n")
    report = one_json(cli("chain", "--shots", str(shots), "--model", str(video_kit / "ltx"), "--frames", "9",
                          "--steps", "2", "--seed", "4", "--out", str(tmp_path / "out"), "--json"))
    assert [c["clip"]["frames"] for c in report["clips"]] == [9, 8]
    assert len(read_frames(report["preview"])) == 17
