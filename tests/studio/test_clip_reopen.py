"""Continue on a clip of a reopened project: the clip made in one window, the project saved, the
window closed and its results folder gone; a new window opens the project and continues the clip
from the project's own copy (its companions came into media/ with it), and the new clip lands."""

import shutil

from PySide6.QtCore import QSettings, QThreadPool

from engine.models.registry import ModelRegistry
from engine.project import MEDIA_DIR
from engine.timeline.model import Clip, Rate
from studio.app import build_studio


def _studio(video_kit, data, settings):
    return build_studio(registry=ModelRegistry(bundled_dir=video_kit), data_dir=data,
                        settings=QSettings(str(settings), QSettings.IniFormat), device="cpu")


def _clips(side) -> list:
    timeline = side.session.timeline
    return [i for i in timeline.tracks[0].items if isinstance(i, Clip)] if timeline and timeline.tracks else []


def _close(studio) -> None:
    studio.window.timeline_side.session._dirty = False
    QThreadPool.globalInstance().waitForDone(30_000)  # thumbnails still rendering report to the window
    studio.window.close()
    studio.shutdown()


def _failures(studio) -> list:
    return [j.error for j in studio.queue.jobs() if j.status.value == "failed"]


def test_continue_on_a_clip_of_a_reopened_project(qtbot, video_kit, tmp_path):
    first = _studio(video_kit, tmp_path / "data", tmp_path / "first.ini")
    side = first.window.timeline_side
    try:
        side.session.new_project(str(tmp_path / "film"), Rate(8), 32, 32)
        qtbot.waitUntil(lambda: side.session.project is not None, timeout=10_000)
        side.clips.model, side.clips.frames, side.clips.steps = "tiny-animatediff", 4, 2
        assert side.clips.make_clip("a red cat") is not None
        qtbot.waitUntil(lambda: len(_clips(side)) == 1 or bool(_failures(first)), timeout=180_000)
        assert _failures(first) == []
        side.save()
        qtbot.waitUntil(lambda: not side.session.is_dirty(), timeout=10_000)
        results = first.controller.folders.results_dir()
    finally:
        _close(first)
    shutil.rmtree(results)  # the clip's original files are gone: only the project's copy is left

    second = _studio(video_kit, tmp_path / "data2", tmp_path / "second.ini")
    side = second.window.timeline_side
    try:
        side.open(str(tmp_path / "film"))
        qtbot.waitUntil(lambda: len(_clips(side)) == 1, timeout=10_000)
        side.clips.frames, side.clips.steps = 2, 2
        side.state.select((0, 0))
        job_id = side.clips.continue_selected("a red cat walking")
        assert job_id is not None
        request = next(j.request for j in second.queue.jobs() if j.id == job_id)
        assert str(tmp_path / "film" / MEDIA_DIR) in request.clip  # the project's copy, not a results file
        qtbot.waitUntil(lambda: len(_clips(side)) == 2 or bool(_failures(second)), timeout=180_000)
        assert _failures(second) == []
        made = side.session.timeline.media_by_id()[_clips(side)[1].media]
        assert made.frames == 2 and made.path.startswith(str(tmp_path / "film" / MEDIA_DIR))
    finally:
        _close(second)
