"""The image side as users of Krita AI Diffusion, InvokeAI or ComfyUI expect it, in the real window
(tiny kit models through the real engine; the bundled toy-scenes where what it says matters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence

from engine.models.registry import ModelRegistry
from studio.app import build_studio

WAIT_MS = 120_000


def _build(tmp_path, registry, settings_name="s.ini"):
    return build_studio(registry=registry, data_dir=tmp_path / "data", device="cpu",
                        settings=QSettings(str(tmp_path / settings_name), QSettings.IniFormat))


@pytest.fixture
def studio(qtbot, kit, tmp_path):
    built = _build(tmp_path, ModelRegistry(bundled_dir=kit))
    qtbot.addWidget(built.window)
    built.window.show()
    qtbot.waitExposed(built.window)
    panel = built.window.prompt_panel
    qtbot.waitUntil(lambda: panel.current_model() is not None, timeout=10_000)
    panel.model_combo.setCurrentIndex(panel._model_row("tiny-sd1"))
    panel.steps_box.setValue(2)
    panel.count_box.setValue(2)
    yield built
    built.shutdown()


def _open(qtbot, window, path):
    window.open_path(str(path))
    qtbot.waitUntil(lambda: window.document.path == str(path), timeout=10_000)


def _plain_png(path: Path, value: int = 90, size: int = 64) -> Path:
    Image.fromarray(np.full((size, size, 3), value, dtype=np.uint8)).save(path)
    return path


def _wait_done(qtbot, studio):
    # The queue marks a job done on its worker thread; the strip fills the job's slots when the
    # GUI thread handles the Finished event after that, so wait for both.
    model = studio.controller.candidates
    qtbot.waitUntil(lambda: studio.queue.jobs() and all(j.done for j in studio.queue.jobs())
                    and not any(model.index(r).data(model.PendingRole) for r in range(model.rowCount())),
                    timeout=WAIT_MS)
    failed = [j.error for j in studio.queue.jobs() if j.status.value == "failed"]
    assert not failed


def test_image_to_image_starts_from_the_canvas_at_the_chosen_strength(qtbot, studio, tmp_path):
    window = studio.window
    panel = window.prompt_panel
    assert not panel.init_check.isEnabled()  # nothing on the canvas yet
    source = _plain_png(tmp_path / "start.png")
    _open(qtbot, window, source)
    assert panel.init_check.isEnabled()
    qtbot.mouseClick(panel.init_check, Qt.LeftButton)
    panel.strength_box.setValue(0.45)
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    _wait_done(qtbot, studio)
    job = studio.queue.jobs()[-1]
    assert job.request.init_image == str(source) and job.request.strength == pytest.approx(0.45)
    assert "Image to image" in window.queue_panel.model.data(window.queue_panel.model.index(0))
    qtbot.mouseClick(panel.init_check, Qt.LeftButton)  # unticked: text to image again
    assert panel.request().init_image is None


def test_the_prompt_box_and_picker_say_what_the_bundled_model_draws(qtbot, tmp_path):
    built = _build(tmp_path, ModelRegistry())  # the real bundled models
    qtbot.addWidget(built.window)
    try:
        panel = built.window.prompt_panel
        qtbot.waitUntil(lambda: panel.current_model() == "toy-scenes", timeout=10_000)
        spec = panel.current_spec()
        assert "a large red circle on the left on a black background" in panel.prompt_edit.placeholderText()
        assert panel.model_info.text() == spec.draws and "triangle" in spec.draws and "gray" in spec.draws
        row = panel.model_combo.currentIndex()
        assert spec.draws in panel.model_combo.itemData(row, Qt.ToolTipRole)
    finally:
        built.shutdown()


def _activate(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)


def _generate(qtbot, studio, prompt: str, **boxes):
    panel = studio.window.prompt_panel
    panel.prompt_edit.setPlainText(prompt)
    for name, value in boxes.items():
        getattr(panel, name).setValue(value)
    before = len(studio.queue.jobs())
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(studio.queue.jobs()) > before, timeout=5_000)
    return studio.queue.jobs()[-1]


def test_redo_works_from_the_keyboard_both_ways(qtbot, studio, tmp_path):
    window = studio.window
    first, second = _plain_png(tmp_path / "a.png", 40), _plain_png(tmp_path / "b.png", 200)
    _open(qtbot, window, first)
    _open(qtbot, window, second)
    _activate(qtbot, window)
    for redo_keys in (Qt.ControlModifier | Qt.ShiftModifier, Qt.ControlModifier):
        qtbot.keyClick(window.canvas, Qt.Key_Z, Qt.ControlModifier)
        assert window.document.path == str(first)
        key = Qt.Key_Z if redo_keys & Qt.ShiftModifier else Qt.Key_Y
        qtbot.keyClick(window.canvas, key, redo_keys)
        assert window.document.path == str(second), f"redo with {QKeySequence(redo_keys | key).toString()}"


def test_the_best_candidate_lands_on_an_empty_canvas_and_later_ones_wait(qtbot, studio):
    window = studio.window
    job = _generate(qtbot, studio, "a red circle")
    _wait_done(qtbot, studio)
    best = job.result.images[0].path
    qtbot.waitUntil(lambda: window.document.path == best, timeout=10_000)
    _generate(qtbot, studio, "a blue square")
    _wait_done(qtbot, studio)
    qtbot.wait(200)  # a wrongly opened image would arrive from the decode worker by now
    assert window.document.path == best  # the canvas was not empty: the user's image stays


def test_inpaint_uses_the_prompt_in_the_prompt_box(qtbot, studio):
    from PySide6.QtCore import QPointF

    from engine.metadata import read_recorded

    window = studio.window
    _generate(qtbot, studio, "a red circle", count_box=1)
    _wait_done(qtbot, studio)
    qtbot.waitUntil(lambda: not window.document.is_empty(), timeout=10_000)
    window.prompt_panel.prompt_edit.setPlainText("a blue square")
    window.document.begin_stroke(erase=False, radius=8)
    window.document.stroke_to(QPointF(20, 20))
    window.document.end_stroke()
    window.inpaint_action.trigger()
    qtbot.waitUntil(lambda: type(studio.queue.jobs()[-1].request).__name__ == "InpaintRequest", timeout=10_000)
    _wait_done(qtbot, studio)
    job = studio.queue.jobs()[-1]
    assert job.request.settings.prompt == "a blue square"
    assert read_recorded(job.result.images[0].path).settings.prompt == "a blue square"


def _activities(model):
    seen = []
    model.dataChanged.connect(lambda top, bottom, roles=(): seen.append(top.data(model.ActivityRole)))
    return seen


def test_a_job_says_it_is_loading_its_model_then_counts_steps(qtbot, studio):
    model = studio.window.queue_panel.model
    seen = _activities(model)
    _generate(qtbot, studio, "a red circle")  # a fresh studio: the model is not loaded yet
    _wait_done(qtbot, studio)
    assert "loading model tiny-sd1" in seen
    first_step = next(i for i, text in enumerate(seen) if text and text.startswith("step"))
    assert seen.index("loading model tiny-sd1") < first_step


def test_cancel_says_cancelling_at_once_and_stops_at_the_next_step(qtbot, studio):
    window = studio.window
    panel, model = window.queue_panel, window.queue_panel.model
    job = _generate(qtbot, studio, "a red circle", steps_box=200, count_box=1)
    qtbot.waitUntil(lambda: job.progress[0] >= 3, timeout=WAIT_MS)
    panel.select_job(job.id)
    panel.cancel_action.trigger()
    step_at_cancel = job.progress[0]
    row = model.index(model.row_of(job.id))
    assert row.data(model.ActivityRole) == "cancelling at the next step"  # before any event came back
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert job.status.value == "cancelled"
    assert job.progress[0] - step_at_cancel <= 2, (step_at_cancel, job.progress)


def test_edit_and_help_menus_brush_readout_and_paste(qtbot, studio):
    from PySide6.QtGui import QColor, QGuiApplication, QImage

    window = studio.window
    menus = {action.text().replace("&", ""): action.menu() for action in window.menuBar().actions()}
    assert window.paste_action in menus["Edit"].actions()
    assert {window.shortcuts_action, window.about_action} <= set(menus["Help"].actions())

    window.show_shortcuts()
    rows = dict(window._shortcuts_dialog.rows())
    assert rows["Redo"].startswith("Ctrl+Shift+Z") and "Ctrl+Y" in rows["Redo"]
    assert rows["Resample block"] == "R" and rows["Paste image"].startswith("Ctrl+V")
    assert rows["Smaller brush"] == "[" and "Cancel job" in rows
    window._shortcuts_dialog.close()

    _activate(qtbot, window)
    start = window.canvas.brush_size
    qtbot.keyClick(window.canvas, Qt.Key_BracketRight)
    assert window.canvas.brush_size > start and window.brush_box.value() == window.canvas.brush_size
    window.brush_box.setValue(50)
    assert window.canvas.brush_size == 50

    pasted = QImage(48, 32, QImage.Format_RGB32)
    pasted.fill(QColor(10, 200, 60))
    QGuiApplication.clipboard().setImage(pasted)
    window.paste_action.trigger()
    qtbot.waitUntil(lambda: Path(window.document.path or "x").name.startswith("pasted"), timeout=10_000)
    assert window.document.image.pixelColor(3, 3) == QColor(10, 200, 60)


def test_every_control_is_reachable_at_the_minimum_window_size(qtbot, studio):
    from PySide6.QtWidgets import QToolBar

    window = studio.window
    window.resize(window.minimumSize())
    qtbot.waitUntil(lambda: window.size() == window.minimumSize(), timeout=5_000)
    qtbot.wait(50)
    for toolbar in window.findChildren(QToolBar):
        for action in toolbar.actions():
            if action.isSeparator():
                continue
            widget = toolbar.widgetForAction(action)
            assert widget is not None and widget.isVisible(), f"{toolbar.objectName()}: {action.text()} hidden"
    panel = window.prompt_panel
    for control in (panel.generate_button, panel.prompt_edit, panel.init_check, panel.rows_box, panel.rank_check):
        shown = control.visibleRegion().boundingRect()
        assert shown.size() == control.size(), f"{control.objectName() or type(control).__name__} cut off"


def test_the_window_comes_back_exactly_where_it_was(qtbot, kit, tmp_path):
    first = _build(tmp_path, ModelRegistry(bundled_dir=kit), "geometry.ini")
    qtbot.addWidget(first.window)  # closed after the test: a stray top-level window confuses later hover tests
    first.window.show()
    first.window.resize(1201, 777)
    first.window.move(37, 29)
    qtbot.waitUntil(lambda: first.window.pos().x() == 37, timeout=5_000)
    where = (first.window.pos(), first.window.size())
    first.shutdown()
    second = _build(tmp_path, ModelRegistry(bundled_dir=kit), "geometry.ini")
    qtbot.addWidget(second.window)
    try:
        second.window.show()
        assert (second.window.pos(), second.window.size()) == where
    finally:
        second.shutdown()


def test_history_shows_prompt_and_date_and_use_these_settings_restores_the_request(qtbot, studio):
    window = studio.window
    history = studio.controller.history
    job = _generate(qtbot, studio, "a green triangle at the top", count_box=1, steps_box=3)
    _wait_done(qtbot, studio)
    made = job.result.images[0]
    qtbot.waitUntil(lambda: history.rowCount() == 1, timeout=10_000)
    item = history.item_at(0)
    text = history.data(history.index(0), Qt.DisplayRole)
    assert text.startswith("a green triangle") and item.date_text() in text
    assert "a green triangle at the top" in history.data(history.index(0), Qt.ToolTipRole)

    panel = window.prompt_panel
    panel.prompt_edit.setPlainText("something else")
    panel.steps_box.setValue(9)
    panel.set_seed_locked(False)
    window.history_view.setCurrentIndex(history.index(0))
    window.use_settings_action.trigger()
    again = panel.request()
    assert again.prompt == "a green triangle at the top" and again.steps == 3 and again.seed == made.seed
    assert panel.seed_locked()  # so the next Generate makes that image again
    assert (again.model, again.grid_rows, again.grid_cols) == (job.request.model, made.grid.rows, made.grid.cols)


def test_a_finished_job_shows_its_result_in_the_queue_and_its_whole_prompt_in_the_tooltip(qtbot, studio):
    from studio.images import load_thumbnail
    from studio.viewmodels.job_list import RESULT_THUMBNAIL

    model = studio.window.queue_panel.model
    prompt = "a red circle on the left and a blue square on the right on a gray background, " * 4  # past any cut
    job = _generate(qtbot, studio, prompt.strip(), count_box=1, steps_box=3)
    _wait_done(qtbot, studio)
    index = model.index(model.row_of(job.id))
    expected = load_thumbnail(job.result.images[0].path, RESULT_THUMBNAIL)
    qtbot.waitUntil(lambda: index.data(model.PreviewRole) == expected, timeout=10_000)
    assert " ".join(prompt.split()) in index.data(Qt.ToolTipRole)


def test_the_strip_groups_slots_by_job_and_resample_results_show_their_seed(qtbot, studio):
    from PySide6.QtGui import QColor

    from studio.widgets.candidates_strip import GROUP_DIVIDER, SPACING

    window = studio.window
    strip, model = window.candidates_strip, studio.controller.candidates
    _generate(qtbot, studio, "a red circle", count_box=2)
    _wait_done(qtbot, studio)
    qtbot.waitUntil(lambda: not window.document.is_empty(), timeout=10_000)
    window.document.select_cell(1, 1)
    studio.controller.resample_count = 3
    window.resample_action.trigger()
    _wait_done(qtbot, studio)
    jobs = [model.index(r).data(model.JobIdRole) for r in range(model.rowCount())]
    assert len(jobs) == 5 and jobs[0] == jobs[2] != jobs[3] == jobs[4]  # the resample's three first
    starts = [model.index(r).data(model.GroupStartRole) for r in range(5)]
    groups = [model.index(r).data(model.GroupRole) for r in range(5)]
    assert starts == [True, False, False, True, False] and groups == [0, 0, 0, 1, 1]

    delegate = strip.itemDelegate()
    resampled = job = studio.queue.jobs()[-1]
    for row, image in enumerate(resampled.result.images):
        assert delegate.badges(model.index(row)) == [(f"seed {model.index(row).data(model.SeedRole)}", False, False)]
        assert model.index(row).data(model.SeedRole) == image.seed
    assert job.request.count == 3

    shot = strip.viewport().grab().toImage()
    rect = strip.visualRect(model.index(3))
    divider = QColor(shot.pixel(int(rect.left() - SPACING / 2 - 1), rect.center().y()))
    assert divider.blue() > divider.red() + 40, divider.name()  # the accent line before the first job
    assert QColor(shot.pixel(rect.left() + 3, rect.top() + 3)) != QColor(shot.pixel(
        strip.visualRect(model.index(0)).left() + 3, rect.top() + 3))  # the two jobs' tones differ


def test_each_command_key_has_one_route_the_window_action(qtbot, studio, tmp_path):
    window = studio.window
    canvas = window.canvas
    _open(qtbot, window, _plain_png(tmp_path / "keys.png", 120))
    _activate(qtbot, window)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_B)
    assert canvas.tool == "brush" and window.brush_box.isEnabled()
    qtbot.keyClick(canvas, Qt.Key_E)
    assert canvas.tool == "eraser"
    qtbot.keyClick(canvas, Qt.Key_V)
    assert canvas.tool == "select"
    qtbot.keyClick(canvas, Qt.Key_G)
    assert not canvas.grid_visible and not window.grid_action.isChecked()
    qtbot.keyClick(canvas, Qt.Key_G)
    assert canvas.grid_visible
    qtbot.keyClick(canvas, Qt.Key_1, Qt.ControlModifier)
    assert canvas.zoom == 1.0
    qtbot.keyClick(canvas, Qt.Key_R)  # no block selected: a hint, no job
    assert not studio.queue.jobs() and "Select a block" in window.statusBar().currentMessage()
    qtbot.keyClick(canvas, Qt.Key_Right)  # the canvas's own key: selects the first block
    qtbot.keyClick(canvas, Qt.Key_R)
    qtbot.keyClick(canvas, Qt.Key_C)
    requests = [job.request for job in studio.queue.jobs()]
    assert [type(r).__name__ for r in requests] == ["ResampleRequest", "CompareRequest"]
    assert all((r.row, r.col) == (0, 0) for r in requests)  # one job per key press, not two
    for job in studio.queue.jobs():
        studio.queue.cancel(job)
