"""The project / timeline / export / otio subcommands, end to end through engine.cli.main."""

from __future__ import annotations

import json

import imageio_ffmpeg
import pytest

from engine.cli import main
from engine.timeline.testing import write_numbered_video, write_still, write_tone


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {"video": write_numbered_video(root / "shot.mp4", 24), "still": write_still(root / "sky.png", (0, 0, 255)),
            "tone": write_tone(root / "tone.wav", 4.0)}


def cli(capsys, *argv, code=0):
    assert main([*argv, "--json"]) == code
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # exactly one JSON object on stdout
    data = json.loads(lines[0])
    if code:
        assert len(err.strip().splitlines()) == 1 and err.startswith("latent-studio: error: ")
        assert set(data) == {"error", "kind"}
    return data


def items(data, label="V1"):
    track = next(t for t in data["tracks"] if t["label"] == label)
    return [(i["type"], i["start"], i["duration"]) for i in track["items"]]


def test_edit_session(capsys, tmp_path, media):
    project = str(tmp_path / "film")
    made = cli(capsys, "project", "new", project, "--fps", "8", "--size", "64x48")
    assert (made["fps"], made["width"], made["height"], made["duration"]) == (8.0, 64, 48, 0)
    assert [t["kind"] for t in made["tracks"]] == ["video", "audio"]
    shown = cli(capsys, "timeline", "add", project, str(media["video"]), "--in", "4", "--out", "20")
    assert items(shown) == [("clip", 0, 16)] and shown["tracks"][0]["items"][0]["in"] == 4
    shown = cli(capsys, "timeline", "add", project, str(media["still"]), "--duration", "12")
    shown = cli(capsys, "timeline", "add", project, str(media["tone"]), "--gain", "0.5")
    assert items(shown, "A1") == [("clip", 0, 32)]  # 4 s at 8 fps
    assert shown["tracks"][1]["items"][0]["gain"] == 0.5
    shown = cli(capsys, "timeline", "crossfade", project, "--item", "0", "--frames", "4")
    assert items(shown) == [("clip", 0, 16), ("transition", 16, 0), ("clip", 16, 12)]
    shown = cli(capsys, "timeline", "split", project, "--at", "10")
    assert items(shown)[:2] == [("clip", 0, 10), ("clip", 10, 6)]
    shown = cli(capsys, "timeline", "trim", project, "--item", "0", "--edge", "out", "--by", "-2", "--ripple")
    assert shown["duration"] == 32 and items(shown)[0] == ("clip", 0, 8)
    shown = cli(capsys, "timeline", "delete", project, "--item", "0", "--ripple")
    assert items(shown)[0] == ("clip", 0, 6)
    shown = cli(capsys, "timeline", "undo", project)
    assert items(shown)[0] == ("clip", 0, 8) and shown["redo"] == ["ripple delete"]
    shown = cli(capsys, "timeline", "redo", project)
    assert items(shown)[0] == ("clip", 0, 6)
    shown = cli(capsys, "timeline", "add", project, str(media["still"]), "--track", "V2", "--duration", "4")
    assert [t["label"] for t in shown["tracks"]] == ["V1", "A1", "V2"]
    shown = cli(capsys, "timeline", "move", project, "--track", "V2", "--item", "0", "--to", "6")
    assert items(shown, "V2") == [("gap", 0, 6), ("clip", 6, 4)]
    shown = cli(capsys, "timeline", "marker", project, "--at", "3", "--name", "hit")
    assert shown["markers"] == [{"frame": 3, "name": "hit", "color": "RED"}]
    assert cli(capsys, "timeline", "show", project) == shown

    exported = cli(capsys, "export", project, "--format", "mp4", "-o", str(tmp_path / "film.mp4"))
    assert {k: exported[k] for k in ("path", "frames", "seconds", "format")} == {
        "path": str(tmp_path / "film.mp4"), "frames": 32, "seconds": 4.0, "format": "mp4"}
    frames, _ = imageio_ffmpeg.count_frames_and_secs(exported["path"])
    assert frames == 32
    small = cli(capsys, "export", project, "--format", "gif", "-o", str(tmp_path / "small"), "--size", "32x24",
                "--fps", "4")
    assert small["path"].endswith("small.gif") and (small["frames"], small["width"]) == (16, 32)

    otio_file = cli(capsys, "otio", "export", project, "-o", str(tmp_path / "film.otio"))["path"]
    imported = cli(capsys, "otio", "import", otio_file, str(tmp_path / "copy"))
    assert imported["unrepresented"] == [] and imported["missing_media"] == [] and imported["duration"] == 32
    copy = cli(capsys, "timeline", "show", str(tmp_path / "copy"))
    assert copy["tracks"] == shown["tracks"] and copy["markers"] == shown["markers"]


def test_errors_are_one_line_and_exit_2(capsys, tmp_path, media):
    project = str(tmp_path / "p")
    cli(capsys, "project", "new", project, "--fps", "8", "--size", "64x48")
    cli(capsys, "timeline", "add", project, str(media["video"]))
    refused = cli(capsys, "timeline", "crossfade", project, "--item", "0", "--frames", "4", "--kind", "crossfade",
                  code=2)
    assert refused == {"error": "V1 item 1: a crossfade needs a clip on each side", "kind": "bad_input"}
    assert cli(capsys, "timeline", "split", project, "--track", "V7", "--at", "3", code=2)["error"].startswith(
        "there is no track 'V7'; tracks are V1, A1")
    assert "size must look like 1280x720" in cli(capsys, "project", "new", str(tmp_path / "q"), "--size", "big",
                                                 code=2)["error"]
    assert "is not a project folder" in cli(capsys, "timeline", "show", str(tmp_path / "nothing"), code=2)["error"]
    fresh = str(tmp_path / "fresh")
    cli(capsys, "project", "new", fresh)
    assert cli(capsys, "timeline", "undo", fresh, code=2)["error"] == "there is nothing to undo"
    assert "is not a video, audio or image file" in cli(capsys, "timeline", "add", project, __file__, code=2)["error"]
    assert "already holds a project" in cli(capsys, "project", "new", project, code=2)["error"]
    assert "gain nan" in cli(capsys, "timeline", "add", project, str(media["tone"]), "--gain", "nan", code=2)["error"]
    shown = cli(capsys, "timeline", "show", project)
    assert items(shown) == [("clip", 0, 24)] and items(shown, "A1") == []  # nothing that failed changed it
    assert sorted(p.name for p in (tmp_path / "p" / "media").iterdir()) == ["shot.mp4"]  # nor copied media
