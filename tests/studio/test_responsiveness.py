"""The GUI thread keeps running while the engine generates and compares (generous CI bound)."""

from PySide6.QtCore import QSettings

from engine.api import GenerateRequest
from engine.models.registry import ModelRegistry
from studio.app import build_studio
from stall_probe import StallProbe


def test_event_loop_keeps_running_during_generation_and_compare(qtbot, qapp, kit, tmp_path):
    studio = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp_path / "data",
                          settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), device="cpu")
    try:
        studio.window.show()
        controller = studio.controller
        # warm up: load the model once, outside the measurement
        controller.generate(GenerateRequest(prompt="warm", output_dir="", model="tiny-sd1", width=64, height=64,
                                            steps=1, guidance=5.0, seed=0, count=1))
        qtbot.waitUntil(lambda: all(j.done for j in studio.queue.jobs()), timeout=120_000)
        source = studio.queue.jobs()[0].result.images[0].path
        studio.window.document.open_image(source)

        probe = StallProbe()
        probe.start()
        controller.generate(GenerateRequest(prompt="a red circle", output_dir="", model="tiny-sd1", width=64, height=64,
                                            steps=4, guidance=5.0, seed=1, count=4))
        controller.compare(1, 1)
        qtbot.waitUntil(lambda: all(j.done for j in studio.queue.jobs()), timeout=300_000)
        probe.stop()
        assert len(probe.gaps_ms) > 20
        assert probe.longest_stall_ms < 250, f"longest stall {probe.longest_stall_ms:.0f} ms"
    finally:
        studio.shutdown()
