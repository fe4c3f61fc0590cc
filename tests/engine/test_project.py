"""Project folders: create, media import, save/open, autosave recovery, hostile files, migration."""

from __future__ import annotations

import json

import pytest

from engine.project import AUTOSAVE_FILE, PROJECT_FILE, Project, ProjectError
from engine.timeline.commands import AddMedia, AddTransition, Append, Batch
from engine.timeline.model import Clip, Rate
from engine.timeline.testing import write_numbered_video, write_still, write_tone


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return {"video": write_numbered_video(root / "shot.mp4", 24), "still": write_still(root / "red.png", (255, 0, 0)),
            "tone": write_tone(root / "tone.wav", 2.0)}


def with_clips(project: Project, sources) -> Project:
    video = project.add_media(sources["video"])
    still = project.add_media(sources["still"])
    tone = project.add_media(sources["tone"], link=True)
    project.history.apply(Batch((AddMedia(video), AddMedia(still), AddMedia(tone),
                                 Append(0, Clip(video.id, 0, 20)), Append(0, Clip(still.id, 0, 8)),
                                 Append(1, Clip(tone.id, 0, 16)))))
    project.history.apply(AddTransition(0, 0, "crossfade", 3))
    return project


def test_create_add_media_save_and_open(tmp_path, sources):
    project = with_clips(Project.create(tmp_path / "p", Rate(8), 64, 48), sources)
    project.save()
    data = json.loads((tmp_path / "p" / PROJECT_FILE).read_text())
    assert data["schema"] == 2 and data["settings"] == {"rate": [8, 1], "width": 64, "height": 48,
                                                         "sample_rate": 48000}
    assert data["media"]["shot"]["path"] == "media/shot.mp4" and data["media"]["shot"]["linked"] is False
    assert (tmp_path / "p" / "media" / "red.png").read_bytes() == sources["still"].read_bytes()
    assert data["media"]["tone"] == data["media"]["tone"] | {"path": str(sources["tone"]), "linked": True}
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["history.json", "media", "project.json",
                                                                   "timeline.otio"]
    again = Project.open(tmp_path / "p")
    assert again.problems == [] and not again.recovered
    assert again.timeline == project.timeline
    again.history.undo()  # undo survives closing the project
    assert again.timeline.tracks[0].items[1:2] != project.timeline.tracks[0].items[1:2]
    copy = project.add_media(sources["still"])  # the same file again gets its own name
    assert copy.id == "red-2" and copy.path.endswith("red-1.png")


def test_autosave_is_what_opens_after_a_crash(tmp_path, sources):
    project = with_clips(Project.create(tmp_path / "p", Rate(8), 64, 48), sources)
    project.save()
    project.history.undo()
    project.autosave()  # ... and the process dies here, before any save
    reopened = Project.open(tmp_path / "p")
    assert reopened.recovered and reopened.timeline == project.timeline
    reopened.history.redo()
    reopened.save()
    assert not (tmp_path / "p" / AUTOSAVE_FILE).exists()
    assert not Project.open(tmp_path / "p").recovered


def test_hostile_fields_are_named_and_nothing_else_is_lost(tmp_path, sources):
    project = with_clips(Project.create(tmp_path / "p", Rate(8), 64, 48), sources)
    project.save()
    path = tmp_path / "p" / PROJECT_FILE
    data = json.loads(path.read_text())
    data["media"]["shot"]["path"] = "../../../etc/passwd"
    data["media"]["red"]["frames"] = "many"
    data["media"]["red"]["kind"] = "image"
    data["settings"]["width"] = "wide"
    data["media"]["gone"] = {"path": "media/gone.mp4", "kind": "video", "frames": 3, "rate": [8, 1]}
    path.write_text(json.dumps(data))
    opened = Project.open(tmp_path / "p")
    problems = "\n".join(opened.problems)
    assert "media.shot.path '../../../etc/passwd' points outside the project folder" in problems
    assert "media.red.frames must be a whole number" in problems
    assert "settings.width must be a whole number from 16 to 8192, got 'wide'; 1280 was used" in problems
    assert "media.gone.path: media/gone.mp4 is missing" in problems
    media = opened.timeline.media_by_id()
    assert media["tone"].path == str(sources["tone"])  # the sound entry is untouched
    assert media["shot"].path == ""  # its clips keep their places, with no file behind them
    assert len(opened.timeline.tracks[0].items) == len(project.timeline.tracks[0].items)
    opened.save()
    saved = json.loads(path.read_text())["media"]
    assert saved["shot"]["path"] == "../../../etc/passwd"  # written back as it was, for the user to fix
    assert saved["red"]["frames"] == "many" and saved["gone"]["path"] == "media/gone.mp4"


def test_linked_relative_path_and_absolute_unlinked_path_are_refused(tmp_path, sources):
    project = with_clips(Project.create(tmp_path / "p", Rate(8), 64, 48), sources)
    project.save()
    path = tmp_path / "p" / PROJECT_FILE
    data = json.loads(path.read_text())
    data["media"]["tone"]["linked"] = False  # an absolute path nobody linked
    data["media"]["red"]["linked"] = "yes"
    outside = tmp_path / "secret.png"
    outside.write_bytes(sources["still"].read_bytes())
    (tmp_path / "p" / "media" / "innocent.png").symlink_to(outside)  # inside by name, outside in fact
    data["media"]["sneaky"] = {"path": "media/innocent.png", "kind": "image"}
    path.write_text(json.dumps(data))
    problems = "\n".join(Project.open(tmp_path / "p").problems)
    assert "media.tone.path" in problems and "points outside the project folder" in problems
    assert "media.red.linked must be true or false, got 'yes'" in problems
    assert "media.sneaky.path 'media/innocent.png' points outside the project folder" in problems


@pytest.mark.parametrize("content, message", [
    ("{ not json", "project.json is not valid JSON (line 1"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[1, 2]", "project.json holds a JSON list, not an object"),
    ('{"schema": "two"}', "schema must be a whole number from 1, got 'two'"),
    ('{"schema": 99}', "schema 99, from a newer Latent Studio; update to open it"),
])
def test_damaged_project_file_refuses_to_open_and_touches_nothing(tmp_path, content, message):
    project = Project.create(tmp_path / "p", Rate(24), 64, 48)
    (tmp_path / "p" / PROJECT_FILE).write_text(content)
    before = {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir() if p.is_file()}
    with pytest.raises(ProjectError, match=message.replace("(", r"\(")):
        Project.open(project.folder)
    assert {p.name: p.read_bytes() for p in (tmp_path / "p").iterdir() if p.is_file()} == before


def test_damaged_timeline_and_autosave(tmp_path):
    project = Project.create(tmp_path / "p", Rate(24), 64, 48)
    (tmp_path / "p" / AUTOSAVE_FILE).write_text("{}")
    opened = Project.open(project.folder)
    assert not opened.recovered and "autosave.json is damaged" in opened.problems[0]
    (tmp_path / "p" / "timeline.otio").write_text("garbage")
    (tmp_path / "p" / AUTOSAVE_FILE).unlink()
    with pytest.raises(ProjectError, match="timeline.otio is damaged"):
        Project.open(project.folder)


def test_schema_1_project_migrates(tmp_path, sources):
    folder = tmp_path / "old"
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "shot.mp4").write_bytes(sources["video"].read_bytes())
    old = {"schema": 1, "fps": 23.976, "size": [64, 48], "media": [{"id": "shot", "file": "media/shot.mp4"}]}
    (folder / PROJECT_FILE).write_text(json.dumps(old))
    project = Project.open(folder)
    assert project.settings.rate == Rate(24000, 1001) and (project.settings.width, project.settings.height) == (64, 48)
    shot = project.timeline.media_by_id()["shot"]
    assert (shot.kind, shot.frames, shot.rate) == ("video", 24, Rate(8))  # probed from the file
    assert "timeline.otio is missing" in project.problems[0]
    assert json.loads((folder / PROJECT_FILE).read_text()) == old  # rewritten only by a save
    project.history.apply(Append(0, Clip("shot", 0, 10)))
    project.save()
    saved = json.loads((folder / PROJECT_FILE).read_text())
    assert saved["schema"] == 2 and saved["settings"]["rate"] == [24000, 1001]
    assert Project.open(folder).timeline.tracks[0].items == (Clip("shot", 0, 10),)


def test_create_refuses_an_existing_project_and_bad_sizes(tmp_path):
    Project.create(tmp_path / "p")
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(tmp_path / "p")
    with pytest.raises(ProjectError, match="settings.width must be a whole number from 16"):
        Project.create(tmp_path / "q", width=4)


def test_a_damaged_clip_is_reported_and_the_rest_stays_editable(tmp_path, sources):
    project = with_clips(Project.create(tmp_path / "p", Rate(8), 64, 48), sources)
    project.save()
    otio_path = tmp_path / "p" / "timeline.otio"
    text = otio_path.read_text()
    otio_path.write_text(text.replace('"value": 20.0', '"value": 2000.0', 1))  # the video clip now runs long
    opened = Project.open(tmp_path / "p")
    assert any("past the end of shot" in p for p in opened.problems)
    opened.history.apply(Append(1, Clip("tone", 0, 4)))  # an edit elsewhere still works ...
    with pytest.raises(Exception, match="past the end of tone"):
        opened.history.apply(Append(1, Clip("tone", 0, 400)))  # ... and new damage is still refused
