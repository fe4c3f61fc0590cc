"""Projects in the window: new, edit, undo with the canvas history, save, autosave and recovery, closing asks."""

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from engine.models.registry import ModelRegistry
from engine.project import AUTOSAVE_FILE, Project
from engine.timeline.testing import write_numbered_video, write_still
from studio.app import build_studio
from studio.launcher import opens_project


def make_studio(tmp_path: Path, name: str = "studio.ini"):
    (tmp_path / "models").mkdir(exist_ok=True)
    return build_studio(registry=ModelRegistry(bundled_dir=tmp_path / "models"), data_dir=tmp_path / "data",
                        settings=QSettings(str(tmp_path / name), QSettings.IniFormat), device="cpu")


@pytest.fixture
def studio(qtbot, tmp_path):
    built = make_studio(tmp_path)
    yield built
    built.window.timeline_side.session._dirty = False  # the test's unsaved edits: nothing to ask on closing
    built.window.close()
    built.shutdown()


def new_project(qtbot, side, folder: Path):
    side.session.new_project(str(folder))
    qtbot.waitUntil(lambda: side.session.project is not None, timeout=10_000)


def clips_on_v1(side) -> int:
    timeline = side.session.timeline
    return sum(1 for item in timeline.tracks[0].items if hasattr(item, "media")) if timeline.tracks else 0


def test_new_edit_undo_redo_save_and_title(qtbot, studio, tmp_path):
    window, side = studio.window, studio.window.timeline_side
    new_project(qtbot, side, tmp_path / "film")
    assert window.windowTitle().startswith("film") and not window.isWindowModified()
    video = write_numbered_video(tmp_path / "shot.mp4", 12)
    side.add_files([str(video)])
    qtbot.waitUntil(lambda: clips_on_v1(side) == 1, timeout=10_000)
    assert side.session.timeline.duration == 36  # 12 frames at 8 fps = 1.5 s at the project's 24
    assert window.isWindowModified()
    # one undo route: the window's Undo action undoes the timeline edit too
    window.undo_action.trigger()
    assert side.session.timeline.duration == 0 and not window.isWindowModified()
    window.redo_action.trigger()
    assert side.session.timeline.duration == 36 and window.isWindowModified()
    side.save()
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=10_000)
    reopened = Project.open(tmp_path / "film")
    assert reopened.timeline.duration == 36 and not reopened.recovered
    assert (tmp_path / "film" / "media" / "shot.mp4").is_file()  # copied into the project
    assert str(tmp_path / "film") in side.recent()


def test_refused_edit_changes_nothing_and_says_why(qtbot, studio, tmp_path):
    from engine.timeline.commands import Split

    side = studio.window.timeline_side
    new_project(qtbot, side, tmp_path / "film")
    side.add_files([str(write_still(tmp_path / "red.png", (255, 0, 0)))])
    qtbot.waitUntil(lambda: clips_on_v1(side) == 1, timeout=10_000)
    steps = side.session.undo_stack.count()
    assert not side.session.apply(Split(0, 10_000))
    assert side.session.undo_stack.count() == steps
    assert "nothing to split" in studio.window.statusBar().currentMessage()


def test_autosave_is_offered_after_a_crash(qtbot, tmp_path, monkeypatch):
    first = make_studio(tmp_path)
    side = first.window.timeline_side
    new_project(qtbot, side, tmp_path / "film")
    side.add_files([str(write_still(tmp_path / "red.png", (255, 0, 0)))])
    qtbot.waitUntil(lambda: clips_on_v1(side) == 1, timeout=10_000)
    side.session.autosave()
    qtbot.waitUntil(lambda: (tmp_path / "film" / AUTOSAVE_FILE).is_file(), timeout=10_000)
    first.window.save_settings()  # the crash: no close, no save; the settings (recent list) were written
    side.session._dirty = False
    first.shutdown()

    second = make_studio(tmp_path)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or QMessageBox.Yes)
    try:
        assert second.window.timeline_side.offer_recovery()
        qtbot.waitUntil(lambda: second.window.timeline_side.session.project is not None, timeout=10_000)
        assert "film" in asked[0]
        assert clips_on_v1(second.window.timeline_side) == 1
        assert second.window.isWindowModified()  # recovered work is unsaved until saved
    finally:
        second.window.timeline_side.session._dirty = False
        second.shutdown()


def test_closing_with_unsaved_changes_asks(qtbot, studio, tmp_path, monkeypatch):
    window, side = studio.window, studio.window.timeline_side
    window.show()
    new_project(qtbot, side, tmp_path / "film")
    side.add_files([str(write_still(tmp_path / "red.png", (255, 0, 0)))])
    qtbot.waitUntil(lambda: window.isWindowModified(), timeout=10_000)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: QMessageBox.Cancel)
    window.close()
    assert window.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: QMessageBox.Save)
    window.close()  # saves on the worker, then closes
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert Project.open(tmp_path / "film").timeline.duration == 120


def test_a_project_folder_argument_opens_the_window(tmp_path):
    assert opens_project([str(tmp_path)]) == str(tmp_path)
    assert opens_project(["timeline", "show", str(tmp_path)]) is None
    assert opens_project(["generate"]) is None
