"""The export dialog on the real queue: presets the encoder has, progress by frames, the file verified, cancel."""

from pathlib import Path

from engine.timeline.encode import decoded_frames
from tests.studio.test_timeline_dock import side  # noqa: F401 - the fixture: a project of two clips


def open_dialog(qtbot, side):
    dialog = side.export_dialog()
    qtbot.waitUntil(lambda: dialog.format_box.count() > 0, timeout=60_000)
    return dialog


def test_export_writes_the_edited_timeline(qtbot, side, tmp_path):
    dialog = open_dialog(qtbot, side)
    names = [dialog.format_box.itemData(i) for i in range(dialog.format_box.count())]
    assert "mp4" in names and "png" in names
    side.state.set_playhead(10)
    side.view.split_at_playhead()  # unsaved: the export must see it anyway (it reads the autosave)
    side.state.select((0, 0))
    side.view.ripple_delete()
    assert side.session.is_dirty() and side.session.timeline.duration == 44
    dialog.format_box.setCurrentIndex(names.index("mp4"))
    dialog.width_box.setValue(64)
    dialog.height_box.setValue(48)
    dialog.destination.setText(str(tmp_path / "out" / "film"))
    seen = []
    side.window.controller.bridge.progress.connect(lambda job, step, total, _p: seen.append((step, total)))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=60_000)
    assert dialog.show_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert Path(dialog.result.path) == tmp_path / "out" / "film.mp4"
    assert decoded_frames(Path(dialog.result.path)) == 44
    assert seen and seen[-1][1] == 44
    assert "44 frames" in dialog.status.text()
    dialog.close()


def test_cancel_leaves_nothing(qtbot, side, tmp_path):
    dialog = open_dialog(qtbot, side)
    dialog.destination.setText(str(tmp_path / "cancelled"))
    side.window.controller.queue.pause()  # held in the queue, so the cancel comes before any frame
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.job_id is not None, timeout=10_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=10_000)
    side.window.controller.queue.resume()
    assert "cancelled" in dialog.status.text()
    assert not list(tmp_path.glob("cancelled*"))
    dialog.close()
