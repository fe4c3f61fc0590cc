"""The prompt panel warns when the size is far from the model's native size (engine.limits), and
says nothing near it; the command line refuses what is farther still (tests/engine/test_hostile_inputs.py)."""

from __future__ import annotations

import pytest

from engine.limits import NATIVE_WARN
from engine.models.spec import ModelSpec
from studio.widgets.prompt_panel import PromptPanel

SD = ModelSpec("my-sd1", "sd1", "local", "/models/my-sd1", native_size=(512, 512))
XL = ModelSpec("sdxl-base", "sdxl", "hf-cache", "stabilityai/sdxl-base", native_size=(1024, 1024))


@pytest.fixture
def panel(qtbot):
    widget = PromptPanel(random_seed=lambda: 1)
    qtbot.addWidget(widget)
    widget.set_models([SD, XL], {SD.reference: 64, XL.reference: 64})
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_native_size_says_nothing(panel):
    assert (panel.width_box.value(), panel.height_box.value()) == (512, 512)
    assert not panel.size_warning.isVisible()


def test_far_beyond_native_warns_and_names_the_native_size(panel):
    panel.width_box.setValue(512 * NATIVE_WARN)  # at the edge: still fine
    assert not panel.size_warning.isVisible()
    panel.width_box.setValue(512 * NATIVE_WARN + 64)
    assert panel.size_warning.isVisible()
    assert "far beyond" in panel.size_warning.text() and "512x512" in panel.size_warning.text()


def test_far_below_native_warns(panel):
    panel.height_box.setValue(192)
    assert panel.size_warning.isVisible() and "far below" in panel.size_warning.text()


def test_switching_model_judges_the_size_against_the_new_native_one(panel):
    panel.width_box.setValue(1536)
    panel.height_box.setValue(1024)
    assert panel.size_warning.isVisible()  # 1536 is three times 512 a side
    panel.model_combo.setCurrentIndex(1)  # SDXL applies its own native 1024x1024
    assert not panel.size_warning.isVisible()
    panel.width_box.setValue(1536)  # 1.5 times SDXL's side: near enough
    assert not panel.size_warning.isVisible()
