"""The whole film path in the real window on the real queue and the tiny clip kit:
prompt -> clip -> continue x2 -> reorder -> trim -> crossfade -> export, the file's frames counted."""

from pathlib import Path

from PySide6.QtCore import QSettings

from engine.models.registry import ModelRegistry
from engine.timeline import commands as c
from engine.timeline.encode import decoded_frames
from engine.timeline.model import Clip, Rate, Transition
from studio.app import build_studio


def test_prompt_clip_continue_twice_reorder_trim_crossfade_export(qtbot, video_kit, tmp_path):
    studio = build_studio(registry=ModelRegistry(bundled_dir=video_kit), data_dir=tmp_path / "data",
                          settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), device="cpu")
    side = studio.window.timeline_side
    try:
        side.session.new_project(str(tmp_path / "film"), Rate(8), 64, 64)
        qtbot.waitUntil(lambda: side.session.project is not None, timeout=10_000)
        side.clips.model, side.clips.frames, side.clips.steps = "tiny-animatediff", 4, 2
        clips = lambda: [i for i in side.session.timeline.tracks[0].items if isinstance(i, Clip)] \
            if side.session.timeline.tracks else []  # noqa: E731

        assert side.clips.make_clip("a red cat") is not None
        qtbot.waitUntil(lambda: len(clips()) == 1, timeout=180_000)
        assert side.clips.can_continue() and side.continue_action.isEnabled()
        for count in (2, 3):
            side.state.select((0, count - 2))  # the newest clip: the continuation lands after it
            assert side.clips.continue_selected("a red cat walking") is not None
            qtbot.waitUntil(lambda: len(clips()) == count or any(
                j.status.value == "failed" for j in studio.queue.jobs()), timeout=180_000)
            assert [j.error for j in studio.queue.jobs() if j.status.value == "failed"] == []
        first, second, third = (clip.media for clip in clips())
        lengths = [clip.duration for clip in clips()]

        side.view.reorder(0, 2, 0)  # the third clip to the front
        assert [clip.media for clip in clips()] == [third, first, second]
        assert side.session.apply(c.Trim(0, 0, "out", -2))  # leaves 2 frames of handle after its out...
        assert side.session.apply(c.Trim(0, 2, "in", 2, ripple=True))  # ...and before the next one's in
        items = side.session.timeline.tracks[0].items
        index = next(i for i, item in enumerate(items) if isinstance(item, Clip) and item.media == first)
        side.session.apply(c.RippleDelete(0, index - 1)) if not isinstance(items[index - 1], Clip) else None
        side.state.select((0, 0))
        side.view.toggle_crossfade()
        assert any(isinstance(item, Transition) for item in side.session.timeline.tracks[0].items)
        duration = side.session.timeline.duration
        assert duration == sum(lengths) - 4

        dialog = side.export_dialog()
        qtbot.waitUntil(lambda: dialog.format_box.count() > 0, timeout=60_000)
        dialog.destination.setText(str(tmp_path / "film.mp4"))
        dialog.export_button.click()
        qtbot.waitUntil(lambda: dialog.result is not None, timeout=120_000)
        assert decoded_frames(Path(dialog.result.path)) == duration
        assert not [j for j in studio.queue.jobs() if j.status.value == "failed"]
    finally:
        side.session._dirty = False
        studio.window.close()
        studio.shutdown()
