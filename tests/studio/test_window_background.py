"""The window keeps file work off the GUI thread (DESIGN section 11) and reports every failure there.

Each outcome comes back by a queued signal, so right after a call nothing has changed yet; the
tests check that, then wait for the outcome and record the thread the work ran on.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage

from engine.models.registry import ModelRegistry
from studio import image_loader, main_window
from studio.app import build_studio
from studio.widgets import compare_view


class RecordingRegistry(ModelRegistry):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.listed_on: list[threading.Thread] = []

    def list(self):
        self.listed_on.append(threading.current_thread())
        return super().list()


@pytest.fixture
def registry(kit):
    return RecordingRegistry(bundled_dir=kit)


@pytest.fixture
def warnings(monkeypatch):
    """Message boxes the window shows, recorded instead of blocking the test in a modal loop."""
    shown = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    return shown


@pytest.fixture
def studio(qtbot, registry, warnings, tmp_path):
    built = build_studio(registry=registry, data_dir=tmp_path / "data", device="cpu",
                         settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(built.window)
    yield built
    built.shutdown()


def test_the_model_picker_fills_from_a_worker(qtbot, studio, registry):
    combo = studio.window.prompt_panel.model_combo
    qtbot.waitUntil(lambda: combo.count() > 0, timeout=10_000)
    assert registry.listed_on and threading.main_thread() not in registry.listed_on


def _recording(module, monkeypatch, name):
    """Replace module.`name` with a wrapper that records the thread each call runs on."""
    threads = []
    original = getattr(module, name)

    def recording(*args):
        threads.append(threading.current_thread())
        return original(*args)

    monkeypatch.setattr(module, name, recording)
    return threads


def _open(qtbot, window, path):
    window.open_path(str(path))
    qtbot.waitUntil(lambda: window.document.path == str(path), timeout=10_000)


def _open_filled(qtbot, window, path, colour: QColor, text: str | None = None) -> QImage:
    """A 40x24 image of one colour written to `path` (format by suffix) and opened in the window."""
    image = QImage(40, 24, QImage.Format_RGB32)
    image.fill(colour)
    if text is not None:
        image.setText("parameters", text)
    image.save(str(path))
    _open(qtbot, window, path)
    return image


def test_a_paste_is_encoded_off_the_gui_thread(qtbot, studio, monkeypatch):
    saved_on = _recording(main_window, monkeypatch, "save_pasted")
    window = studio.window
    pasted = QImage(64, 48, QImage.Format_RGB32)
    pasted.fill(QColor(10, 120, 200))
    window.open_pasted(pasted)
    assert not window.document.path
    qtbot.waitUntil(lambda: bool(window.document.path), timeout=10_000)
    first = Path(window.document.path)
    assert first.name.startswith("pasted") and QImage(str(first)).size() == pasted.size()
    assert window.document.image.pixelColor(5, 5) == QColor(10, 120, 200)
    assert saved_on and threading.main_thread() not in saved_on
    window.open_pasted(pasted)  # a second paste gets a file of its own: recorded requests point at the first
    qtbot.waitUntil(lambda: window.document.path != str(first), timeout=10_000)
    assert first.is_file() and Path(window.document.path).parent == first.parent


def test_any_decode_failure_reaches_the_user(qtbot, studio, warnings, tmp_path, monkeypatch):
    def out_of_memory(path):
        raise MemoryError

    monkeypatch.setattr(image_loader, "load_image", out_of_memory)
    studio.window.open_path(str(tmp_path / "huge.png"))
    qtbot.waitUntil(lambda: warnings == ["Not enough memory for this image."], timeout=10_000)


def test_a_comparison_that_cannot_be_decoded_says_so_in_the_status_bar(qtbot, studio, monkeypatch):
    def broken(path):
        raise OSError("Input/output error")

    monkeypatch.setattr(compare_view, "_read_image", broken)
    window = studio.window
    result = SimpleNamespace(resample_path="r.png", inpaint_path="i.png", resample_metrics={}, inpaint_metrics={},
                             heatmaps=())
    window.show_comparison(result, SimpleNamespace(image="o.png", row=0, col=0))
    assert window.centre.currentWidget() is window.compare_view  # the measures show at once
    qtbot.waitUntil(lambda: "Input/output error" in window.statusBar().currentMessage(), timeout=10_000)
    assert window.compare_view.resample_pane.image.isNull()


def test_the_latent_grid_follows_the_model_read_off_the_gui_thread(qtbot, studio, registry, tmp_path, monkeypatch):
    window = studio.window
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=10_000)
    model = window.prompt_panel.settings()["model"]
    expected = image_loader.vae_scale_factor(registry.resolve(model))
    assert expected != window.document.vae_factor  # the kit's VAE is not SD's 8, so a change shows
    looked_up_on = _recording(image_loader, monkeypatch, "with_latent_factor")
    path = tmp_path / "plain.png"
    QImage(64, 48, QImage.Format_RGB32).save(str(path))
    _open(qtbot, window, path)  # no metadata: the grid follows the model chosen in the panel
    qtbot.waitUntil(lambda: window.document.vae_factor == expected, timeout=10_000)
    assert looked_up_on and threading.main_thread() not in looked_up_on


def test_save_png_as_copies_the_file_off_the_gui_thread(qtbot, studio, tmp_path, monkeypatch):
    window = studio.window
    source = tmp_path / "made.png"
    _open_filled(qtbot, window, source, QColor(200, 30, 90), text="a red house")  # metadata must travel too
    saved_on = _recording(main_window, monkeypatch, "save_png_copy")
    target = tmp_path / "out" / "copy.png"
    target.parent.mkdir()
    window.save_png(str(target))
    qtbot.waitUntil(lambda: "Saved" in window.statusBar().currentMessage(), timeout=10_000)
    assert target.read_bytes() == source.read_bytes()
    assert saved_on and threading.main_thread() not in saved_on


def test_save_png_as_converts_other_formats_and_reports_failures(qtbot, studio, warnings, tmp_path):
    window = studio.window
    image = _open_filled(qtbot, window, tmp_path / "photo.jpg", QColor(20, 130, 220))
    target = tmp_path / "photo.png"
    window.save_png(str(target))
    qtbot.waitUntil(target.is_file, timeout=10_000)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and QImage(str(target)).size() == image.size()
    blocked = tmp_path / "taken.png"
    blocked.mkdir()  # a folder where the file should go: the write cannot land
    window.save_png(str(blocked))
    qtbot.waitUntil(lambda: len(warnings) == 1, timeout=10_000)
    assert "taken.png" in warnings[0] and blocked.is_dir()
