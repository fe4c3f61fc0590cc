"""The timeline dock and the player on a real project: thumbnails, keys, drags, undo with the canvas history."""

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from engine.timeline.model import Transition
from engine.timeline.testing import write_numbered_video
from studio.viewmodels.timeline import snap, timecode
from studio.widgets.timeline_view import RULER_H, TRACK_H
from tests.studio.test_timeline_project import clips_on_v1, make_studio, new_project


@pytest.fixture
def side(qtbot, tmp_path):
    built = make_studio(tmp_path)
    built.window.show()
    side = built.window.timeline_side
    new_project(qtbot, side, tmp_path / "film")
    side.add_files([str(write_numbered_video(tmp_path / "a.mp4", 12)), str(write_numbered_video(tmp_path / "b.mp4", 6))])
    qtbot.waitUntil(lambda: clips_on_v1(side) == 2, timeout=20_000)
    side.state.set_zoom(4.0)
    yield side
    side.session._dirty = False
    built.window.close()
    built.shutdown()


def items(side):
    return side.session.timeline.tracks[0].items


def test_keys_split_crossfade_marker_ripple_delete_and_undo(qtbot, side):
    view, state = side.view, side.state
    assert [i.duration for i in items(side)] == [36, 18]
    qtbot.waitUntil(lambda: all(state.thumbnail(i) is not None for i in items(side)), timeout=20_000)
    view.setFocus()
    state.set_playhead(10)
    qtbot.keyClick(view, Qt.Key_S)
    assert [i.duration for i in items(side)] == [10, 26, 18]
    state.select((0, 0))
    qtbot.keyClick(view, Qt.Key_T)  # crossfade with the next clip: the halves have handles for it
    assert isinstance(items(side)[1], Transition) and items(side)[1].length == 12
    qtbot.keyClick(view, Qt.Key_T)  # again: gone
    assert not any(isinstance(i, Transition) for i in items(side))
    qtbot.keyClick(view, Qt.Key_M)
    assert [m.frame for m in side.session.timeline.markers] == [10]
    state.select((0, 0))
    qtbot.keyClick(view, Qt.Key_Delete)
    assert [i.duration for i in items(side)] == [26, 18] and items(side)[0].source_in == 10
    undo = side.window.undo_action
    for _ in range(5):  # delete, marker, crossfade off, on, split: the window's one Undo walks them back
        undo.trigger()
    assert [i.duration for i in items(side)] == [36, 18] and not side.session.timeline.markers


def _at(frame, track=0):
    return QPoint(36 + frame * 4, RULER_H + track * TRACK_H + TRACK_H // 2)


def test_drag_reorders_trims_and_snaps(qtbot, side):
    view = side.view
    # Ctrl+drag the second clip (frames 36-54) to the start: the clips swap places
    qtbot.mousePress(view, Qt.LeftButton, Qt.NoModifier, _at(40))
    qtbot.mouseMove(view, _at(5))
    qtbot.mouseRelease(view, Qt.LeftButton, Qt.ControlModifier, _at(5))
    assert [(i.media, i.duration) for i in items(side)] == [("b", 18), ("a", 36)]
    # trim the end of "a" (now 18-54) 20 frames earlier; without ripple nothing else moves
    qtbot.mousePress(view, Qt.LeftButton, Qt.NoModifier, _at(54))
    qtbot.mouseMove(view, _at(34))
    qtbot.mouseRelease(view, Qt.LeftButton, Qt.NoModifier, _at(34))
    assert [i.duration for i in items(side)] == [18, 16]
    # the out edge dragged 1 frame from the playhead snaps onto it (within 8 px at 4 px/frame)
    side.state.set_playhead(30)
    qtbot.mousePress(view, Qt.LeftButton, Qt.NoModifier, _at(34))
    qtbot.mouseMove(view, _at(31))
    qtbot.mouseRelease(view, Qt.LeftButton, Qt.NoModifier, _at(31))
    assert items(side)[1].duration == 12
    # the ruler scrubs
    qtbot.mousePress(view, Qt.LeftButton, Qt.NoModifier, QPoint(36 + 20, 5))
    assert side.state.playhead == 5


def test_player_shows_the_frame_at_the_playhead_and_plays(qtbot, side):
    player, state = side.player, side.state
    state.set_playhead(9)  # source frame 9 of "a" at 24 fps: media frame 3 at 8 fps
    qtbot.waitUntil(lambda: player.shown == 9, timeout=20_000)
    assert not player.picture.pixmap().isNull()
    image = player.picture.pixmap().toImage()
    assert image.width() > 0
    side.panel.setFocus()
    qtbot.keyClick(side.view, Qt.Key_Right)
    assert state.playhead == 10
    qtbot.keyClick(side.view, Qt.Key_End)
    assert state.playhead == 53
    qtbot.keyClick(side.view, Qt.Key_Home)
    qtbot.keyClick(side.view, Qt.Key_Space)
    assert player.playing()
    qtbot.waitUntil(lambda: state.playhead >= 12 and player.playing(), timeout=10_000)  # half a second at 24 fps
    qtbot.keyClick(side.view, Qt.Key_K)
    assert not player.playing()
    qtbot.keyClick(side.view, Qt.Key_L)
    qtbot.keyClick(side.view, Qt.Key_L)
    assert player.speed == 2
    player.pause()


def test_render_helpers():
    assert timecode(24 * 61 + 5, 24) == "00:01:01:05"
    assert snap(27, [0, 28, 54], 2) == 28 and snap(20, [0, 28], 2) == 20


def test_media_bin_lists_the_project_media_and_drags_urls(qtbot, side, tmp_path):
    from engine.timeline.testing import write_still

    bin_ = side.media_bin
    assert [Path(p).name for p in bin_.paths()] == ["a.mp4", "b.mp4"]
    qtbot.waitUntil(lambda: not bin_.list.item(0).icon().isNull(), timeout=20_000)
    data = bin_.list.mimeData([bin_.list.item(1)])
    assert [u.toLocalFile() for u in data.urls()] == [bin_.paths()[1]]
    side.session.import_media(str(write_still(tmp_path / "red.png", (255, 0, 0))))
    qtbot.waitUntil(lambda: len(bin_.paths()) == 3, timeout=20_000)
    assert side.session.timeline.duration == 54  # imported, not placed
    bin_.place_requested.emit(bin_.paths()[2])  # a double-click appends it
    qtbot.waitUntil(lambda: clips_on_v1(side) == 3, timeout=20_000)
    assert side.session.timeline.duration == 54 + 120
    # a candidate dragged from the strip carries its file too
    strip_model = side.window.controller.candidates
    assert "text/uri-list" in strip_model.mimeTypes()


def test_a_file_dropped_from_the_file_manager_lands_at_the_drop(qtbot, side, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    from engine.timeline.testing import write_still

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(write_still(tmp_path / "blue.png", (0, 0, 255))))])
    side.state.set_playhead(36)
    event = QDropEvent(QPointF(_at(37)), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    side.view.dropEvent(event)  # 37 snaps to the cut at 36
    qtbot.waitUntil(lambda: clips_on_v1(side) == 3, timeout=20_000)
    assert [i.media for i in items(side)] == ["a", "blue", "b"]
