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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="resources/docs/screenshot.png")
    parser.add_argument("--model", default="toy-scenes")
    args = parser.parse_args()

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
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the studio did not finish in time")
            app.processEvents()
            time.sleep(0.005)

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


if __name__ == "__main__":
    sys.exit(main())
