"""The image side as users of Krita AI Diffusion, InvokeAI or ComfyUI expect it, in the real window
(tiny kit models through the real engine; the bundled toy-scenes where what it says matters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt

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
    qtbot.waitUntil(lambda: studio.queue.jobs() and all(j.done for j in studio.queue.jobs()), timeout=WAIT_MS)
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
