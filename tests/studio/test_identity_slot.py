"""The clip bar's Identity slot: image files dropped on it (through Qt's drag-and-drop events, as a
file manager, the candidates strip or the media bin sends them) show as thumbnails and go on the
Continue and Make clip requests; Clear references empties it; a file that is no image is refused
with a sentence, also one that only says so when it is decoded."""

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine.models.registry import ModelRegistry
from engine.timeline.testing import write_numbered_video, write_still
from studio.app import build_studio


@pytest.fixture
def studio(qtbot, tmp_path):
    (tmp_path / "models").mkdir()
    built = build_studio(registry=ModelRegistry(bundled_dir=tmp_path / "models"), data_dir=tmp_path / "data",
                         settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), device="cpu")
    built.queue.pause()  # the requests are what is checked here: nothing needs to run
    yield built
    built.window.timeline_side.session._dirty = False
    QThreadPool.globalInstance().waitForDone(30_000)
    built.window.close()
    built.shutdown()


def _drop(widget, paths) -> bool:
    """Drag `paths` over `widget` and drop them, as Qt delivers a drag from another window; whether it took them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return _drop_mime(widget, mime)


def _drop_mime(widget, mime) -> bool:
    enter = QDragEnterEvent(QPoint(4, 4), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(4, 4), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def _request(studio, job_id):
    return next(job.request for job in studio.queue.jobs() if job.id == job_id)


def test_dropped_images_go_on_the_continue_and_clip_requests_and_clear_empties_them(qtbot, studio, tmp_path):
    side = studio.window.timeline_side
    slot = side.identity_slot
    side.session.new_project(str(tmp_path / "film"))
    qtbot.waitUntil(lambda: side.session.project is not None, timeout=10_000)
    side.add_files([str(write_numbered_video(tmp_path / "shot.mp4", 8))])
    qtbot.waitUntil(lambda: bool(side.session.timeline.tracks[0].items), timeout=10_000)
    side.state.select((0, 0))
    faces = [str(write_still(tmp_path / name, colour)) for name, colour in (("a.png", (250, 0, 0)),
                                                                             ("b.png", (0, 0, 250)))]

    assert _drop(slot, faces)
    assert slot.references() == tuple(faces)
    qtbot.waitUntil(lambda: slot.thumbnails_shown() == 2, timeout=10_000)
    assert all(face in slot.toolTip() for face in faces)
    continued = side.clips.continue_selected("walking on")
    assert _request(studio, continued).identity_references == tuple(faces)
    made = side.clips.make_clip("a red cat")
    assert _request(studio, made).identity_references == tuple(faces)
    assert _drop(slot, faces[:1]) and slot.references() == tuple(faces)  # each once

    slot.clear_action.trigger()  # the button's and the context menu's action
    assert slot.references() == () and slot.thumbnails_shown() == 0
    assert _request(studio, side.clips.continue_selected("walking on")).identity_references == ()


def test_files_that_are_not_images_are_refused_with_a_sentence(qtbot, studio, tmp_path):
    slot = studio.window.timeline_side.identity_slot
    status = studio.window.statusBar()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    _drop(slot, [notes])
    assert slot.references() == ()
    assert "notes.txt: not an image" in status.currentMessage()

    broken = tmp_path / "broken.png"  # an image by its name only: refused once its thumbnail fails to decode
    broken.write_bytes(b"not a png at all")
    face = write_still(tmp_path / "face.png", (0, 250, 0))
    assert _drop(slot, [broken, face])
    qtbot.waitUntil(lambda: slot.references() == (str(face),), timeout=10_000)
    assert "broken.png could not be read" in status.currentMessage()
    assert studio.window.timeline_side.clips.identity_references == (str(face),)


def test_a_still_dragged_from_the_media_bin_becomes_a_reference(qtbot, studio, tmp_path):
    side = studio.window.timeline_side
    side.session.new_project(str(tmp_path / "film"))
    qtbot.waitUntil(lambda: side.session.project is not None, timeout=10_000)
    side.add_files([str(write_still(tmp_path / "face.png", (250, 200, 0)))])
    qtbot.waitUntil(lambda: side.media_bin.list.count() == 1, timeout=10_000)
    bin_list = side.media_bin.list
    dragged = bin_list.mimeData([bin_list.item(0)])  # what the bin's drag carries
    assert _drop_mime(side.identity_slot, dragged)
    assert side.identity_slot.references() == (side.media_bin.paths()[0],)  # the project's copy in media/
