"""CompareView: pictures from real PNGs, measures with the better value in bold, modes, heatmaps, keep."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QRect, Qt, QThreadPool
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from engine.metrics import MEASURE_KEYS as ENGINE_MEASURE_KEYS
from studio.widgets import compare_view
from studio.widgets.compare_view import MEASURE_KEYS, CompareView

read_image = compare_view._read_image  # the real decoder, for tests that wrap it

RESAMPLE = {"distortion_radial": 0.0123, "change_inside": 0.31, "mse_inside": 0.12, "mse_outside": 0.0004,
            "ssim_outside": 0.981, "seam": 0.052, "seam_step": 0.011, "seconds": 1.234}
INPAINT = {"distortion_radial": 0.0456, "change_inside": 0.29, "mse_inside": 0.10, "mse_outside": 0.0009,
           "ssim_outside": 0.995, "seam": 0.031, "seam_step": 0.094, "seconds": 2.5}
# column (0 resample, 1 inpaint) that must be bold, None: neither
BOLD = {"distortion_radial": 0, "change_inside": None, "mse_inside": None, "mse_outside": 0,
        "ssim_outside": 1, "seam": 1, "seam_step": 0, "seconds": 0}


def _png(path, colour) -> str:
    array = np.zeros((64, 64, 3), dtype=np.uint8)
    array[...] = colour
    Image.fromarray(array).save(path)
    return str(path)


@pytest.fixture
def files(tmp_path):
    return {
        "original": _png(tmp_path / "original.png", (200, 30, 30)),
        "resample": _png(tmp_path / "resample.png", (30, 200, 30)),
        "inpaint": _png(tmp_path / "inpaint.png", (30, 30, 200)),
        "heat_resample": _png(tmp_path / "heat-resample.png", (250, 250, 0)),
        "heat_inpaint": _png(tmp_path / "heat-inpaint.png", (0, 0, 0)),
    }


@pytest.fixture
def view(qtbot, files):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show_comparison(files["original"], files["resample"], files["inpaint"], RESAMPLE, INPAINT,
                           (files["heat_resample"], files["heat_inpaint"]), QRect(16, 16, 16, 16))
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: not widget.is_loading())
    return widget


def _colour(image) -> QColor:
    return QColor(image.pixel(image.width() // 2, image.height() // 2))


def test_rows_are_the_engine_measures():
    assert MEASURE_KEYS == tuple(ENGINE_MEASURE_KEYS)


def test_table_values_and_bold_cells(view):
    table = view.measures_table
    assert (table.rowCount(), table.columnCount()) == (len(MEASURE_KEYS), 2)
    assert [table.horizontalHeaderItem(c).text() for c in range(2)] == ["Resample", "Inpaint"]
    for row, key in enumerate(MEASURE_KEYS):
        header = table.verticalHeaderItem(row)
        assert header.text().startswith(key)
        assert header.toolTip().endswith(".") and len(header.toolTip()) > 20
        decimals = 2 if key == "seconds" else 4
        for col, metrics in enumerate((RESAMPLE, INPAINT)):
            item = table.item(row, col)
            assert item.text() == f"{metrics[key]:.{decimals}f}"
            assert item.font().bold() == (BOLD[key] == col), (key, col)
            assert item.toolTip()
    assert table.item(MEASURE_KEYS.index("seconds"), 0).text() == "1.23"
    assert table.item(MEASURE_KEYS.index("seam"), 1).text() == "0.0310"


def test_missing_nan_and_tied_values_are_not_bold(qtbot, files):
    widget = CompareView()
    qtbot.addWidget(widget)
    resample = dict(RESAMPLE, ssim_outside=math.nan, seconds=None, seam=0.03101)
    inpaint = dict(INPAINT, seam=0.03099)
    del inpaint["mse_outside"]
    widget.show_comparison(files["original"], files["resample"], files["inpaint"], resample, inpaint, (), QRect())
    qtbot.waitUntil(lambda: not widget.is_loading())
    table = widget.measures_table
    for key, text in (("ssim_outside", "—"), ("seconds", "—")):
        assert table.item(MEASURE_KEYS.index(key), 0).text() == text
    assert table.item(MEASURE_KEYS.index("mse_outside"), 1).text() == "—"
    for key in ("ssim_outside", "seconds", "mse_outside", "seam"):  # seam ties at 4 decimals
        row = MEASURE_KEYS.index(key)
        assert not table.item(row, 0).font().bold() and not table.item(row, 1).font().bold()
    assert table.item(MEASURE_KEYS.index("distortion_radial"), 0).font().bold()
    assert not widget.heatmap_button.isEnabled()  # no heatmaps given


def test_side_by_side_shows_the_three_pictures(view):
    assert view.mode() == "side"
    assert view.pages.currentIndex() == 0
    panes = (view.original_pane, view.resample_pane, view.inpaint_pane)
    assert [pane.title for pane in panes] == ["Original", "Resample", "Inpaint"]
    assert [_colour(pane.image) for pane in panes] == [QColor(200, 30, 30), QColor(30, 200, 30), QColor(30, 30, 200)]
    for pane in panes:
        assert pane.block == QRect(16, 16, 16, 16)
        drawn = pane.image_rect()
        assert drawn.width() >= 2 * 64 and drawn.width() % 64 == 0  # enlarged by a whole factor
    grab = view.original_pane.grab().toImage()
    drawn = view.original_pane.image_rect()
    scale = drawn.width() / 64
    inside = QPoint(int(drawn.left() + 8 * scale), int(drawn.top() + 8 * scale))
    assert QColor(grab.pixel(inside)) == QColor(200, 30, 30)  # nearest-neighbour: exact colour
    edge = QPoint(int(drawn.left() + 24 * scale), int(drawn.top() + 16 * scale))
    assert QColor(grab.pixel(edge)) != QColor(200, 30, 30)  # the block outline is drawn


def test_split_mode_and_result_choice(qtbot, view):
    qtbot.mouseClick(view.split_button, Qt.LeftButton)
    assert view.mode() == "split" and view.pages.currentIndex() == 1
    assert view.split_result() == "resample"
    assert _colour(view.split_view.right) == QColor(30, 200, 30)
    assert _colour(view.split_view.left) == QColor(200, 30, 30)
    qtbot.mouseClick(view.split_inpaint_button, Qt.LeftButton)
    assert view.split_result() == "inpaint"
    assert _colour(view.split_view.right) == QColor(30, 30, 200)

    qtbot.waitUntil(lambda: view.split_view.isVisible())
    target = view.split_view.image_rect()
    x = int(target.left() + 0.25 * target.width())
    qtbot.mouseClick(view.split_view, Qt.LeftButton, pos=QPoint(x, int(target.center().y())))
    assert view.split_view.position() == pytest.approx(0.25, abs=0.02)
    assert view.split_slider.value() == pytest.approx(250, abs=20)
    grab = view.split_view.grab().toImage()
    y = int(target.top() + 2)
    assert QColor(grab.pixel(int(target.left() + 0.1 * target.width()), y)) == QColor(200, 30, 30)
    assert QColor(grab.pixel(int(target.left() + 0.6 * target.width()), y)) == QColor(30, 30, 200)
    view.split_slider.setValue(800)
    assert view.split_view.position() == pytest.approx(0.8)
    view.split_view.setFocus()
    QTest.keyClick(view.split_view, Qt.Key_Left)
    assert view.split_view.position() == pytest.approx(0.78)

    view.set_mode("side")
    assert view.pages.currentIndex() == 0 and not view.split_inpaint_button.isVisible()


def test_heatmap_toggle(qtbot, view):
    assert not view.heatmap_shown() and not view.legend.isVisible()
    qtbot.mouseClick(view.heatmap_button, Qt.LeftButton)
    assert view.heatmap_shown() and view.legend.isVisible()
    assert _colour(view.resample_pane.image) == QColor(250, 250, 0)
    assert _colour(view.inpaint_pane.image) == QColor(0, 0, 0)
    assert _colour(view.original_pane.image) == QColor(200, 30, 30)  # the original stays
    assert "difference" in view.resample_pane.title
    view.set_mode("split")
    view.set_split_result("inpaint")
    assert _colour(view.split_view.right) == QColor(0, 0, 0)
    qtbot.mouseClick(view.heatmap_button, Qt.LeftButton)
    assert _colour(view.split_view.right) == QColor(30, 30, 200)
    assert _colour(view.shown_images()["resample"]) == QColor(30, 200, 30)


def test_keep_and_close(qtbot, view, files):
    with qtbot.waitSignal(view.keep_requested) as blocker:
        qtbot.mouseClick(view.keep_resample_button, Qt.LeftButton)
    assert blocker.args == [files["resample"]]
    with qtbot.waitSignal(view.keep_requested) as blocker:
        qtbot.mouseClick(view.keep_inpaint_button, Qt.LeftButton)
    assert blocker.args == [files["inpaint"]]
    with qtbot.waitSignal(view.closed):
        qtbot.mouseClick(view.close_button, Qt.LeftButton)
    view.setFocus()
    with qtbot.waitSignal(view.closed):
        QTest.keyClick(view, Qt.Key_Escape)


def test_unreadable_images_are_reported_not_fatal(qtbot, tmp_path, files):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.show_comparison(files["original"], str(tmp_path / "gone.png"), files["inpaint"], RESAMPLE, INPAINT,
                           (files["heat_resample"], files["heat_inpaint"]), QRect(0, 0, 8, 8))
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: not widget.is_loading())
    assert widget.resample_pane.image.isNull()
    assert "gone.png" in widget.resample_pane.missing_text
    assert not widget.grab().isNull()


def test_pictures_are_decoded_off_the_gui_thread(qtbot, files, monkeypatch):
    decoded_on = []

    def recording(path):
        decoded_on.append(threading.current_thread())
        return read_image(path)

    monkeypatch.setattr(compare_view, "_read_image", recording)
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.show_comparison(files["original"], files["resample"], files["inpaint"], RESAMPLE, INPAINT,
                           (files["heat_resample"], files["heat_inpaint"]), QRect())
    # The measures are there at once; the pictures only after the event loop delivers them.
    assert widget.measures_table.item(MEASURE_KEYS.index("seam"), 1).text() == "0.0310"
    assert widget.is_loading() and widget.original_pane.image.isNull()
    assert widget.original_pane.missing_text == "Loading…"
    qtbot.waitUntil(lambda: not widget.is_loading())
    assert _colour(widget.original_pane.image) == QColor(200, 30, 30)
    assert widget.heatmap_button.isEnabled()
    assert len(decoded_on) == 5 and threading.main_thread() not in decoded_on


def test_a_superseded_comparison_never_shows(qtbot, files, tmp_path, monkeypatch):
    first_may_finish = threading.Event()

    def slow_for_the_first(path):
        if path == files["original"]:
            first_may_finish.wait(2)  # a bound, in case the pool has one thread and runs the calls in turn
        return read_image(path)

    monkeypatch.setattr(compare_view, "_read_image", slow_for_the_first)
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.show_comparison(files["original"], files["resample"], files["inpaint"], RESAMPLE, INPAINT, (), QRect())
    newer = _png(tmp_path / "newer.png", (9, 9, 9))
    widget.show_comparison(newer, files["resample"], files["inpaint"], RESAMPLE, INPAINT, (), QRect())
    qtbot.waitUntil(lambda: not widget.is_loading(), timeout=10_000)
    first_may_finish.set()
    QThreadPool.globalInstance().waitForDone(10_000)
    qtbot.wait(50)  # delivers the first decode's late result, which must be dropped
    assert _colour(widget.original_pane.image) == QColor(9, 9, 9)


def test_a_decode_failure_is_reported(qtbot, files, monkeypatch):
    def out_of_memory(path):
        raise MemoryError

    monkeypatch.setattr(compare_view, "_read_image", out_of_memory)
    widget = CompareView()
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.failed) as blocker:
        widget.show_comparison(files["original"], files["resample"], files["inpaint"], RESAMPLE, INPAINT, (),
                               QRect())
    assert "memory" in blocker.args[0]
    assert not widget.is_loading()
    assert "resample.png" in widget.resample_pane.missing_text  # the pane says what it could not show
