"""The real studio window on the real engine (tiny kit): generate -> pick -> resample -> compare -> keep -> undo."""

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from engine.api import GenerateRequest
from engine.models.registry import ModelRegistry
from studio.app import build_studio
from studio.theme import apply_dark_theme


@pytest.fixture
def studio(qtbot, qapp, kit, tmp_path):
    apply_dark_theme(qapp)
    settings = QSettings(str(tmp_path / "studio.ini"), QSettings.IniFormat)
    built = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp_path / "data", settings=settings,
                         device="cpu")
    qtbot.addWidget(built.window)
    built.window.show()
    yield built
    built.shutdown()


def _params(model="tiny-sd1"):
    return GenerateRequest(prompt="a red circle", output_dir="", model=model, width=64, height=64, steps=2,
                           guidance=5.0, seed=3, count=2)


def test_generate_pick_resample_compare_keep_undo(qtbot, studio, tmp_path):
    window, controller = studio.window, studio.controller
    candidates = controller.candidates

    window.prompt_panel.generate_requested.emit(_params())
    qtbot.waitUntil(lambda: candidates.rowCount() == 2 and all(
        candidates.index(r).data(candidates.PathRole) for r in range(2)), timeout=120_000)
    first = candidates.index(0).data(candidates.PathRole)
    assert Path(first).parent.parent == tmp_path / "data" / "sessions"  # on disk as soon as the job finished

    window.candidates_strip.candidate_chosen.emit(first)  # decoded on a worker, then swapped in
    qtbot.waitUntil(lambda: window.document.path == first, timeout=10_000)
    assert window.document.has_seeds

    window.document.select_cell(1, 2)
    qtbot.keyClick(window.canvas, Qt.Key_R)
    qtbot.waitUntil(lambda: candidates.rowCount() == 2 + controller.resample_count and all(
        candidates.index(r).data(candidates.PathRole) for r in range(candidates.rowCount())), timeout=120_000)
    resampled = candidates.index(0).data(candidates.PathRole)
    assert "-r1c2-" in Path(resampled).name

    qtbot.keyClick(window.canvas, Qt.Key_C)
    qtbot.waitUntil(lambda: window.centre.currentWidget() is window.compare_view, timeout=120_000)
    window.compare_view.keep_requested.emit(resampled)
    qtbot.waitUntil(lambda: window.document.path == resampled, timeout=10_000)
    assert window.centre.currentWidget() is window.canvas

    window.document.undo_stack.undo()
    assert window.document.path == first
    window.document.undo_stack.redo()
    assert window.document.path == resampled
    assert not [j for j in studio.queue.jobs() if j.status.value == "failed"]


def test_a_failing_job_shows_its_message_and_the_window_goes_on(qtbot, studio):
    window = studio.window
    window.prompt_panel.generate_requested.emit(_params(model="no-such-model"))
    qtbot.waitUntil(lambda: any(j.status.value == "failed" for j in studio.queue.jobs()), timeout=30_000)
    qtbot.waitUntil(lambda: "No model called" in window.statusBar().currentMessage(), timeout=5_000)
    window.prompt_panel.generate_requested.emit(_params())
    qtbot.waitUntil(lambda: any(j.status.value == "completed" for j in studio.queue.jobs()), timeout=120_000)


def test_layout_and_settings_are_remembered(qtbot, qapp, kit, tmp_path):
    settings_path = tmp_path / "studio.ini"
    first = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp_path / "data",
                         settings=QSettings(str(settings_path), QSettings.IniFormat), device="cpu")
    first.window.resize(1203, 790)  # above the window's minimum size
    first.window.grid_action.setChecked(False)
    first.shutdown()
    second = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp_path / "data",
                          settings=QSettings(str(settings_path), QSettings.IniFormat), device="cpu")
    try:
        assert second.window.size().width() == 1203
        assert not second.window.grid_action.isChecked()
    finally:
        second.shutdown()


def test_history_lists_earlier_sessions(qtbot, qapp, kit, tmp_path):
    import numpy as np
    from PIL import Image

    from engine.api import GenerateRequest
    from engine.metadata import save_png

    old = tmp_path / "data" / "sessions" / "2026-01-01_000000"
    old.mkdir(parents=True)
    pixels = Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8))
    save_png(pixels, old / "old-result.png", GenerateRequest(prompt="old", output_dir=str(old)), "old")
    pixels.save(old / "not-made-here.png")  # no Latent Studio metadata: not one of our results
    built = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp_path / "data",
                         settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), device="cpu")
    try:
        history = built.controller.history
        qtbot.waitUntil(lambda: history.rowCount() == 1, timeout=10_000)
        assert history.path_at(0).endswith("old-result.png")
    finally:
        built.shutdown()
