"""CandidatesModel and CandidatesStrip: placeholders, previews, results best first, choosing, removal."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from studio.images import load_thumbnail
from studio.viewmodels.candidates import THUMBNAIL_SIZE, Candidate, CandidatesModel
from studio.widgets.candidates_strip import CandidatesStrip

M = CandidatesModel


def _png(path, colour, size=(64, 64)) -> str:
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    array[...] = colour
    array[: size[1] // 4, : size[0] // 4] = (255, 255, 255)  # a white corner, so orientation is checkable
    Image.fromarray(array).save(path)
    return str(path)


@pytest.fixture
def pngs(tmp_path):
    return [_png(tmp_path / f"c{i}.png", colour) for i, colour in
            enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)])]


def _preview(colour=(90, 90, 90)) -> QImage:
    image = QImage(16, 16, QImage.Format_RGB32)
    image.fill(QColor(*colour))
    return image


def _column(model: CandidatesModel, role: int) -> list:
    return [model.index(row).data(role) for row in range(model.rowCount())]


def _wait_thumbnails(qtbot, model: CandidatesModel) -> None:
    qtbot.waitUntil(lambda: all(item.pending or item.thumbnail is not None for item in model.candidates()),
                    timeout=5000)


def test_pending_preview_results_order(qtbot, pngs):
    model = CandidatesModel()
    model.add_pending(1, 2, "generate")
    model.add_pending(2, 3, "resample")  # the newest batch goes first
    assert model.rowCount() == 5
    assert _column(model, M.JobIdRole) == [2, 2, 2, 1, 1]
    assert _column(model, M.KindRole) == ["resample"] * 3 + ["generate"] * 2
    assert all(_column(model, M.PendingRole))
    assert _column(model, Qt.DecorationRole) == [None] * 5
    assert model.flags(model.index(0)) & Qt.ItemIsSelectable == Qt.NoItemFlags

    preview = _preview()
    with qtbot.waitSignal(model.dataChanged):
        model.set_preview(1, preview)
    decorations = _column(model, Qt.DecorationRole)
    assert decorations[3] == preview  # job 1's first placeholder shows the live preview
    assert decorations[4] is None and decorations[:3] == [None] * 3
    model.set_preview(2, _preview((10, 10, 10)), index=2)
    assert model.index(2).data(Qt.DecorationRole) is not None and model.index(0).data(Qt.DecorationRole) is None

    # results in the engine's order (best first), replacing job 1's placeholders only
    model.set_results(1, [(pngs[2], 12, 0.31), (pngs[0], 10, 0.25)])
    assert model.rowCount() == 5
    assert _column(model, M.PathRole) == [None, None, None, pngs[2], pngs[0]]
    assert _column(model, M.SeedRole)[3:] == [12, 10]
    assert _column(model, M.ScoreRole)[3:] == [pytest.approx(0.31), pytest.approx(0.25)]
    assert _column(model, M.PendingRole) == [True, True, True, False, False]
    assert _column(model, M.IndexRole)[3:] == [0, 1]
    assert model.flags(model.index(3)) & Qt.ItemIsSelectable

    _wait_thumbnails(qtbot, model)
    thumbnail = model.index(3).data(Qt.DecorationRole)
    assert isinstance(thumbnail, QImage) and thumbnail.size().width() == 64
    assert QColor(thumbnail.pixel(40, 40)) == QColor(40, 40, 200)  # the thumbnail is pngs[2]'s picture
    assert QColor(thumbnail.pixel(2, 2)) == QColor(255, 255, 255)
    assert isinstance(model.index(3).data(M.CandidateRole), Candidate)
    tip = model.index(3).data(Qt.ToolTipRole)
    assert "12" in tip and "0.31" in tip and pngs[2] in tip


def test_candidates_fill_their_slots_as_they_are_saved_then_rank_on_finish(qtbot, pngs):
    model = CandidatesModel()
    model.add_pending(1, 3, "generate")
    model.set_preview(1, _preview((10, 10, 10)))
    with qtbot.waitSignal(model.dataChanged):
        model.set_candidate(1, 0, pngs[0], 2**32 - 1)  # seeds are unsigned 32-bit
    assert _column(model, M.PendingRole) == [False, True, True]
    assert _column(model, M.PathRole)[0] == pngs[0] and _column(model, M.SeedRole)[0] == 2**32 - 1
    assert model.flags(model.index(0)) & Qt.ItemIsSelectable  # choosable before the job ends
    _wait_thumbnails(qtbot, model)
    first_thumbnail = model.index(0).data(Qt.DecorationRole)
    assert QColor(first_thumbnail.pixel(40, 40)) == QColor(200, 40, 40)

    model.set_preview(1, _preview((70, 70, 70)))  # candidate 1 is being drawn now: its own slot
    assert QColor(model.index(1).data(Qt.DecorationRole).pixel(0, 0)) == QColor(70, 70, 70)
    assert model.index(0).data(Qt.DecorationRole) == first_thumbnail and model.index(2).data(Qt.DecorationRole) is None
    model.set_candidate(1, 1, pngs[1], 11)
    model.set_candidate(1, 1, pngs[3], 99)  # a slot fills once
    model.set_candidate(7, 0, pngs[3], 99)  # a job the strip does not show
    assert _column(model, M.PathRole) == [pngs[0], pngs[1], None]

    # the finished job's order (best first) wins; pictures already shown stay
    model.set_results(1, [(pngs[2], 12, 0.9), (pngs[1], 11, 0.5), (pngs[0], 2**32 - 1, 0.1)])
    assert _column(model, M.PathRole) == [pngs[2], pngs[1], pngs[0]]
    assert _column(model, M.IndexRole) == [0, 1, 2]
    assert _column(model, M.ScoreRole) == [pytest.approx(0.9), pytest.approx(0.5), pytest.approx(0.1)]
    assert model.index(2).data(Qt.DecorationRole) == first_thumbnail
    _wait_thumbnails(qtbot, model)
    assert QColor(model.index(0).data(Qt.DecorationRole).pixel(40, 40)) == QColor(40, 40, 200)
    assert QColor(model.index(1).data(Qt.DecorationRole).pixel(40, 40)) == QColor(40, 200, 40)


def test_results_can_outnumber_or_undernumber_placeholders(qtbot, pngs):
    model = CandidatesModel(async_thumbnails=False)
    model.add_pending(1, 2, "generate")
    model.add_pending(2, 4, "inpaint")
    model.add_pending(3, 1, "generate")
    model.set_results(2, [(pngs[0], 1, None)])  # fewer than asked for
    assert _column(model, M.JobIdRole) == [3, 2, 1, 1]
    model.set_results(1, [(p, i, None) for i, p in enumerate(pngs)])  # more
    assert _column(model, M.JobIdRole) == [3, 2, 1, 1, 1, 1]
    assert _column(model, M.PathRole)[2:] == pngs
    model.set_results(9, [(pngs[1], 5, 0.5)])  # never announced: goes first
    assert _column(model, M.JobIdRole)[0] == 9


def test_large_images_are_thumbnailed_small(tmp_path):
    path = _png(tmp_path / "big.png", (10, 120, 230), size=(640, 320))
    image = load_thumbnail(path, THUMBNAIL_SIZE)
    assert (image.width(), image.height()) == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
    assert load_thumbnail(str(tmp_path / "missing.png"), THUMBNAIL_SIZE).isNull()


def test_unreadable_result_keeps_its_preview(qtbot, tmp_path):
    model = CandidatesModel()
    model.add_pending(1, 1, "generate")
    preview = _preview()
    model.set_preview(1, preview)
    model.set_results(1, [(str(tmp_path / "gone.png"), 3, None)])
    model.wait_for_thumbnails()
    qtbot.wait(50)
    assert model.index(0).data(Qt.DecorationRole) == preview


def test_a_job_ending_early_keeps_what_it_saved_and_clear(qtbot, pngs):
    model = CandidatesModel()
    model.add_pending(1, 3, "generate")
    model.add_pending(2, 3, "resample")
    with qtbot.waitSignal(model.rowsRemoved):
        assert model.end_early(2) == []  # nothing saved yet: all placeholders go
    assert _column(model, M.JobIdRole) == [1, 1, 1]
    assert model.end_early(42) == []  # unknown: nothing happens
    model.set_candidate(1, 1, pngs[1], 11)  # the second candidate was saved before the cancel
    assert model.end_early(1) == [pngs[1]]
    assert _column(model, M.PathRole) == [pngs[1]] and _column(model, M.SeedRole) == [11]
    model.wait_for_thumbnails()
    qtbot.waitUntil(lambda: model.index(0).data(Qt.DecorationRole) is not None, timeout=5_000)
    assert not model.has_pending()
    model.add_pending(3, 2, "inpaint")
    with qtbot.waitSignal(model.modelReset):
        model.clear()
    assert model.rowCount() == 0
    with pytest.raises(ValueError):
        model.add_pending(4, 1, "upscale")


@pytest.fixture
def strip(qtbot, pngs):
    model = CandidatesModel(async_thumbnails=False)
    model.add_pending(1, 3, "generate")
    model.set_results(1, [(pngs[0], 10, 0.31), (pngs[1], 11, 0.29), (pngs[2], 12, 0.2)])
    model.add_pending(2, 2, "resample")  # rows 0, 1 are pending
    view = CandidatesStrip()
    view.setModel(model)
    view.resize(900, 180)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def _click(qtbot, view: CandidatesStrip, row: int) -> None:
    rect = view.visualRect(view.model().index(row))
    assert rect.isValid() and view.viewport().rect().intersects(rect)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())


def test_click_on_finished_item_chooses_it(qtbot, strip, pngs):
    with qtbot.waitSignal(strip.candidate_chosen, timeout=2000) as blocker:
        _click(qtbot, strip, 3)
    assert blocker.args == [pngs[1]]


def test_click_on_pending_item_does_nothing(qtbot, strip):
    with qtbot.assertNotEmitted(strip.candidate_chosen, wait=100):
        _click(qtbot, strip, 0)
        _click(qtbot, strip, 1)


def test_double_click_chooses_once(qtbot, strip, pngs):
    chosen = []
    strip.candidate_chosen.connect(chosen.append)
    rect = strip.visualRect(strip.model().index(2))
    # what a real double-click delivers: press, release, press, double-click, release
    qtbot.mouseClick(strip.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseClick(strip.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseDClick(strip.viewport(), Qt.LeftButton, pos=rect.center())
    assert chosen == [pngs[0]]
    qtbot.mouseClick(strip.viewport(), Qt.LeftButton, pos=strip.visualRect(strip.model().index(3)).center())
    assert chosen == [pngs[0], pngs[1]]  # another candidate is chosen at once


def test_enter_on_current_finished_item_chooses_it(qtbot, strip, pngs):
    strip.setFocus()
    strip.setCurrentIndex(strip.model().index(4))
    with qtbot.waitSignal(strip.candidate_chosen, timeout=2000) as blocker:
        QTest.keyClick(strip, Qt.Key_Return)
    assert blocker.args == [pngs[2]]
    strip.setCurrentIndex(strip.model().index(0))
    with qtbot.assertNotEmitted(strip.candidate_chosen, wait=50):
        QTest.keyClick(strip, Qt.Key_Enter)


def test_strip_layout_is_one_row_with_spinner_while_pending(qtbot, strip):
    model = strip.model()
    tops = {strip.visualRect(model.index(row)).top() for row in range(model.rowCount())}
    assert len(tops) == 1  # one horizontal row, no wrapping
    lefts = [strip.visualRect(model.index(row)).left() for row in range(model.rowCount())]
    assert lefts == sorted(lefts)
    assert strip.visualRect(model.index(0)).width() >= THUMBNAIL_SIZE
    assert strip._spinner.isActive()
    model.end_early(2)
    assert not strip._spinner.isActive()
    image = strip.grab().toImage()  # paints without errors, badges included
    assert not image.isNull()
    assert strip.indexAt(QPoint(-5, -5)) == QModelIndex()
