"""Start the real studio window, generate with the bundled model, and save a screenshot.

    packaging/screenshot.sh            # runs this under Xvfb
    python packaging/screenshot.py --out resources/docs/screenshot.png   # on a desktop

It drives the window the way a person does: a prompt, Generate, the best candidate onto the
canvas, a block selected on the latent grid, a block resample queued; then grabs the screen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a green circle on the left and a purple square on the right on a white background"



def pump_events_until(app, condition, timeout: float = 600.0) -> None:
    """Run the event loop until `condition()` holds (the real window, so no pytest-qt here; the GUI
    benchmarks drive it with this too)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the studio did not finish in time")
        app.processEvents()
        time.sleep(0.001)  # short: a stall probe's 5 ms ticks must not wait on this loop

def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="resources/docs/screenshot.png")
    parser.add_argument("--model", default="toy-scenes")
    parser.add_argument("--timeline", action="store_true",
                        help="a project of several clips made with the bundled motion model, timeline in view")
    args = parser.parse_args()
    if args.timeline:
        return timeline_screenshot(args.out)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.app import build_studio
    from studio.theme import apply_dark_theme

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Latent Studio")
    apply_dark_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="screenshot-"))
    studio = build_studio(data_dir=tmp, settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat))
    window = studio.window
    window.resize(1500, 920)
    window.show()

    def pump_until(condition, timeout=600.0):
        pump_events_until(app, condition, timeout)

    panel = window.prompt_panel
    # The model list is read on a worker; take the panel's state once it has applied the model's defaults.
    pump_until(lambda: panel.current_spec() is not None, timeout=60)
    restored = panel.settings()
    restored.update(prompt=PROMPT, model=args.model, count=6, seed=7, seed_locked=True)
    panel.restore(restored)
    studio.controller.generate(panel.request())  # what Generate sends, with the seed kept at 7
    pump_until(lambda: all(job.done for job in studio.queue.jobs()))
    best = studio.queue.jobs()[-1].result.images[0].path
    window.keep_result(best)
    pump_until(lambda: window.document.path == best)
    window.grid_action.setChecked(True)
    window.document.select_cell(1, 2)
    window.canvas.fit()
    studio.controller.resample(1, 2)
    # let the resample start so the queue and the strip show live work
    pump_until(lambda: any(job.status.value == "running" for job in studio.queue.jobs()) or
               all(job.done for job in studio.queue.jobs()))
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    screen = app.primaryScreen()
    grabbed = screen.grabWindow(window.winId()) if screen is not None else window.grab()
    if grabbed.isNull():
        grabbed = window.grab()
    grabbed.save(str(out))
    print(f"saved {out} ({grabbed.width()}x{grabbed.height()})")
    pump_until(lambda: all(job.done for job in studio.queue.jobs()))
    studio.shutdown()
    return 0


CLIP_PROMPTS = ("a red circle on the left moving to the right on a black background",  # the motion model's grammar
                "a blue square at the bottom moving up on a white background",
                "a green circle on the right moving to the left on a gray background")


def timeline_screenshot(out: str) -> int:
    """The real window with a project of several generated clips (one continued) on the timeline."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.timeline.commands import Trim
    from engine.timeline.model import Rate
    from studio.app import build_studio
    from studio.theme import apply_dark_theme

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Latent Studio")
    apply_dark_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="screenshot-"))
    from engine.models.registry import ModelRegistry
    from engine.testing import VIDEO_KIT_WRITERS

    # The bundled motion model (the default clip model) where it is installed; else the tiny
    # random-weight AnimateDiff of the test kit, whose clips show noise (the picture is of the timeline).
    registry, model, steps = ModelRegistry(), None, None
    if "toy-scenes-motion" not in {spec.id for spec in registry.bundled()}:
        kit = tmp / "kit"
        for name in ("sd1", "animatediff"):
            VIDEO_KIT_WRITERS[name](kit / name)
        registry, model, steps = ModelRegistry(bundled_dir=kit), "tiny-animatediff", 3
    studio = build_studio(registry=registry, data_dir=tmp,
                          settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat), device="cpu")
    window, side = studio.window, studio.window.timeline_side
    side.clips.model = model
    window.resize(1500, 920)
    window.show()

    def pump_until(condition, timeout=600.0):
        pump_events_until(app, condition, timeout)

    side.session.new_project(str(tmp / "Red circle film"), Rate(8), 128, 128)
    pump_until(lambda: side.session.project is not None)
    side.clips.frames, side.clips.steps = 8, steps  # 8 frames; the kit's in few steps
    for prompt in CLIP_PROMPTS:
        side.clips.make_clip(prompt)
    pump_until(lambda: all(job.done for job in studio.queue.jobs()) and not side.clips.pending())
    failed = [job.error for job in studio.queue.jobs() if job.error]
    if failed:
        raise SystemExit(f"clip jobs failed: {failed[0]}")
    pump_until(lambda: len(side.session.timeline.tracks[0].items) >= len(CLIP_PROMPTS), timeout=60)
    if side.clips.can_continue():
        side.state.select((0, 0))
        side.clips.continue_selected("a red circle in the center moving to the right on a black background")
        pump_until(lambda: all(job.done for job in studio.queue.jobs()) and not side.clips.pending())
    # a crossfade needs frames beyond both cuts: give the first two clips 2 frames of handle each
    side.session.apply(Trim(0, 0, "out", -2, ripple=True))
    side.session.apply(Trim(0, 1, "in", 2, ripple=True))
    side.state.select((0, 0))
    side.view.toggle_crossfade()
    side.view.add_marker()
    side.view.fit()
    side.state.set_playhead(side.state.duration // 3)
    pump_until(lambda: not side.state.thumbnails_pending() and not side.player.busy(), timeout=60)
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    side.view.fit()  # again, now that the docks have their final sizes
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    grabbed = window.grab()
    grabbed.save(str(target))
    print(f"saved {target} ({grabbed.width()}x{grabbed.height()}), {len(side.session.timeline.tracks[0].items)} items")
    side.session._dirty = False  # a throwaway project: nothing to ask on the way out
    studio.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
