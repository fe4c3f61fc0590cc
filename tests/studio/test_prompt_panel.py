"""PromptPanel: Ctrl+Enter emits a GenerateRequest, models apply their defaults, seed lock, persistence."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from engine.api import GenerateRequest
from engine.models.spec import ModelSpec
from engine.schedulers import scheduler_names
from studio.widgets.prompt_panel import SEED_MAX, PromptPanel

TOY = ModelSpec("toy-scenes", "sd1", "bundled", "/nowhere/toy", native_size=(64, 128), default_steps=20,
                default_guidance=4.0, default_scheduler="ddim")
XL = ModelSpec("sdxl-base", "sdxl", "hf-cache", "stabilityai/sdxl-base", native_size=(1024, 768),
               default_steps=30, default_guidance=5.0)
LOCAL = ModelSpec("my-sd2", "sd2", "local", "/models/my-sd2", default_steps=28, default_guidance=6.0)
MISSING = ModelSpec("not-cached", "sd1", "hf-cache", "someone/not-cached", available=False)
CLIP = ModelSpec("toy-scenes-clip", "clip", "bundled", "/nowhere/clip")
VIDEO = ModelSpec("motion", "animatediff", "local", "/models/motion")


@pytest.fixture
def panel(qtbot):
    seeds = itertools.count(1000)
    widget = PromptPanel(random_seed=lambda: next(seeds))
    qtbot.addWidget(widget)
    widget.set_models([TOY, XL, LOCAL, MISSING, CLIP, VIDEO], {TOY.reference: 64})
    return widget


def _show(qtbot, widget):
    widget.show()
    widget.activateWindow()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(widget.isActiveWindow)


def _type(qtbot, box, text: str) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)


def test_only_image_models_are_listed_with_family(panel):
    texts = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert len(texts) == 4
    assert "toy-scenes" in texts[0] and "sd1" in texts[0]
    assert "sdxl-base" in texts[1] and "sdxl" in texts[1]
    assert not any("clip" in text or "motion" in text for text in texts)
    missing_item = panel.model_combo.model().item(3)
    assert not missing_item.isEnabled()


def test_first_model_defaults_are_applied(panel):
    assert panel.current_model() == "toy-scenes"
    assert (panel.width_box.value(), panel.height_box.value()) == (128, 64)  # native_size is (height, width)
    assert panel.steps_box.value() == 20
    assert panel.guidance_box.value() == pytest.approx(4.0)
    assert panel.scheduler_combo.currentData() is None
    assert "ddim" in panel.scheduler_combo.currentText()


def test_choosing_a_model_applies_its_defaults(panel):
    panel.model_combo.setCurrentIndex(1)
    assert (panel.width_box.value(), panel.height_box.value()) == (768, 1024)
    assert panel.steps_box.value() == 30
    assert panel.guidance_box.value() == pytest.approx(5.0)
    panel.model_combo.setCurrentIndex(2)  # no native size: the family's
    assert (panel.width_box.value(), panel.height_box.value()) == (512, 512)
    assert panel.steps_box.value() == 28
    assert panel.request().model == "/models/my-sd2"  # a local model is requested by its path


def test_scheduler_choices(panel):
    names = [panel.scheduler_combo.itemData(i) for i in range(panel.scheduler_combo.count())]
    assert names == [None, *scheduler_names()]


def test_ctrl_enter_emits_typed_values(qtbot, panel):
    _show(qtbot, panel)
    panel.model_combo.setCurrentIndex(1)
    panel.prompt_edit.setFocus()
    qtbot.keyClicks(panel.prompt_edit, "a red house")
    panel.negative_edit.setFocus()
    qtbot.keyClicks(panel.negative_edit, "blurry")
    _type(qtbot, panel.width_box, "640")
    _type(qtbot, panel.height_box, "384")
    _type(qtbot, panel.steps_box, "12")
    _type(qtbot, panel.guidance_box, "6.5")
    panel.scheduler_combo.setCurrentIndex(panel.scheduler_combo.findData("euler_a"))
    panel.set_seed_locked(True)
    _type(qtbot, panel.seed_box, "4000000000")  # beyond a C int: the seed box holds 32-bit seeds
    _type(qtbot, panel.count_box, "6")
    _type(qtbot, panel.rows_box, "2")
    _type(qtbot, panel.cols_box, "8")
    panel.prompt_edit.setFocus()

    with qtbot.waitSignal(panel.generate_requested, timeout=2000) as blocker:
        QTest.keyClick(panel.prompt_edit, Qt.Key_Return, Qt.ControlModifier)
    assert blocker.args[0] == GenerateRequest(
        prompt="a red house", negative_prompt="blurry", output_dir="", model="sdxl-base", width=640, height=384,
        steps=12, guidance=6.5, scheduler="euler_a", seed=4_000_000_000, count=6, grid_rows=2, grid_cols=8,
        rerank=True,  # candidates are ranked unless "rank" is unticked
    )
    assert panel.prompt_edit.toPlainText() == "a red house"  # Ctrl+Enter did not type a newline


@pytest.mark.parametrize("key", [Qt.Key_Return, Qt.Key_Enter])
def test_ctrl_enter_works_from_any_child(qtbot, panel, key):
    _show(qtbot, panel)
    for child in (panel.negative_edit, panel.steps_box, panel.model_combo, panel.seed_box):
        child.setFocus()
        with qtbot.waitSignal(panel.generate_requested, timeout=2000):
            QTest.keyClick(child, key, Qt.ControlModifier)


def test_button_generates_with_empty_prompt(qtbot, panel):
    assert panel.generate_button.toolTip() == "Generate (Ctrl+Enter)"
    assert not panel.generate_button.icon().isNull()
    with qtbot.waitSignal(panel.generate_requested, timeout=2000) as blocker:
        qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    assert blocker.args[0].prompt == ""
    assert blocker.args[0].scheduler is None


def test_sizes_snap_to_the_step(panel):
    # TOY has no configs of its own, so its family's shipped SD 1.5 ones rule: multiples of 64
    panel.width_box.setValue(301)
    panel.height_box.setValue(280)
    request = panel.request()
    assert panel.width_box.singleStep() == 64
    assert (request.width, request.height) == (320, 256)


@pytest.mark.parametrize("model", ["tiny-sd1", "tiny-sdxl"])
def test_every_size_the_panel_accepts_is_one_the_engine_accepts(qtbot, kit_cache, model):
    """The step is the engine's own multiple (VAE factor x UNet levels), not just the VAE factor."""
    from engine.errors import BadInput
    from engine.models.registry import image_size_multiple
    from engine.sampling import latent_geometry

    spec = kit_cache.registry.resolve(model)
    pipe = kit_cache.pipeline(spec)
    panel = PromptPanel()
    qtbot.addWidget(panel)
    panel.set_models([spec], {spec.reference: image_size_multiple(spec)})  # as the window reads it, on a worker
    step = panel.width_box.singleStep()
    assert step > pipe.vae_scale_factor  # the kit: VAE factor 2, two UNet levels, so 4
    with pytest.raises(BadInput):
        latent_geometry(pipe, 64, 64 + pipe.vae_scale_factor)  # a VAE-factor step is not enough
    for width in range(step, 12 * step, 3):
        panel.width_box.setValue(width)
        panel.height_box.setValue(width + 1)
        request = panel.request()
        latent_geometry(pipe, request.height, request.width)  # raises BadInput for a size the engine refuses


def _emitted(qtbot, panel) -> GenerateRequest:
    with qtbot.waitSignal(panel.generate_requested, timeout=2000) as blocker:
        panel.generate_button.click()
    return blocker.args[0]


def test_locked_seed_is_kept(qtbot, panel):
    panel.set_seed_locked(True)
    panel.seed_box.setSeed(1234)
    assert [_emitted(qtbot, panel).seed for _ in range(3)] == [1234, 1234, 1234]
    assert panel.seed_box.seed() == 1234


def test_unlocked_seed_changes_every_time_and_is_shown(qtbot, panel):
    panel.set_seed_locked(False)
    seeds = [_emitted(qtbot, panel).seed for _ in range(4)]
    assert len(set(seeds)) == 4
    assert panel.seed_box.seed() == seeds[-1]  # the box shows the seed of the last batch
    assert all(0 <= seed <= SEED_MAX for seed in seeds)


def test_unlocked_seed_with_the_real_random_source(qtbot):
    widget = PromptPanel()
    qtbot.addWidget(widget)
    seeds = {_emitted(qtbot, widget).seed for _ in range(5)}
    assert len(seeds) == 5


def test_lock_button_toggles_the_lock(qtbot, panel):
    assert not panel.seed_locked()
    qtbot.mouseClick(panel.seed_lock, Qt.LeftButton)
    assert panel.seed_locked()
    assert panel.seed_lock.text() == "Locked"


def _fill(panel):
    panel.model_combo.setCurrentIndex(1)
    panel.prompt_edit.setPlainText("a lighthouse\nat night")
    panel.negative_edit.setPlainText("people")
    panel.width_box.setValue(832)
    panel.height_box.setValue(1216)
    panel.steps_box.setValue(33)
    panel.guidance_box.setValue(3.5)
    panel.scheduler_combo.setCurrentIndex(panel.scheduler_combo.findData("heun"))
    panel.seed_box.setSeed(SEED_MAX)
    panel.set_seed_locked(True)
    panel.count_box.setValue(9)
    panel.rows_box.setValue(3)
    panel.cols_box.setValue(5)


def test_settings_restore_round_trip(qtbot, panel):
    _fill(panel)
    saved = panel.settings()
    assert all(isinstance(value, (str, int, float, bool)) for value in saved.values())
    other = PromptPanel()
    qtbot.addWidget(other)
    other.set_models([TOY, XL, LOCAL])
    other.restore(saved)
    assert other.settings() == saved
    assert other.current_model() == "sdxl-base"
    assert other.width_box.value() == 832  # restoring the model did not apply its defaults over the saved size


def test_settings_survive_qsettings_ini(qtbot, panel, tmp_path):
    _fill(panel)
    store = QSettings(str(tmp_path / "studio.ini"), QSettings.IniFormat)
    store.setValue("prompt/settings", panel.settings())
    store.sync()
    loaded = QSettings(str(tmp_path / "studio.ini"), QSettings.IniFormat).value("prompt/settings")
    other = PromptPanel()
    qtbot.addWidget(other)
    other.set_models([TOY, XL])
    other.restore(loaded)
    assert other.settings() == panel.settings()


def test_restore_before_models_and_with_string_values(qtbot):
    widget = PromptPanel()
    qtbot.addWidget(widget)
    widget.restore({"model": "sdxl-base", "width": "640", "height": "480", "steps": "15", "guidance": "2.5",
                    "seed": "4294967295", "seed_locked": "true", "scheduler": "", "count": "2",
                    "grid_rows": "1", "grid_cols": "16", "bogus": object()})
    widget.set_models([TOY, XL], {XL.reference: 32})
    request = widget.request()
    assert request.model == "sdxl-base"
    assert (request.width, request.height, request.steps) == (640, 480, 15)
    assert request.guidance == 2.5 and request.scheduler is None
    assert request.seed == SEED_MAX and widget.seed_locked()
    assert (request.count, request.grid_rows, request.grid_cols) == (2, 1, 16)


def test_restore_ignores_garbage(qtbot, panel):
    before = panel.settings()
    panel.restore({"width": "wide", "steps": None, "seed": -5, "seed_locked": "maybe", "guidance": [1]})
    assert panel.settings() == before
    panel.restore({})
    panel.restore(None)
    assert panel.settings() == before


def test_no_models_falls_back_to_the_default_model(qtbot):
    widget = PromptPanel()
    qtbot.addWidget(widget)
    widget.set_models([])
    assert widget.request().model == "toy-scenes"
