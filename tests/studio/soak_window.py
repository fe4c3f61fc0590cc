"""Soak the real studio window: jobs report progress while the queue and candidates repaint hard.

    python tests/studio/soak_window.py KIT_DIR WORK_DIR [--paints N]

Run in a child process by test_soak_paint.py, so an interpreter abort (PySide6 6.12.0's
"Fatal Python error: none_dealloc", issue 10) fails that test instead of killing pytest. Builds
the window as the app does, on the tiny kit, queues generations and repaints the queue panel
and the candidates strip synchronously until every job is done and at least N paints ran; with
--abort-when-done it then crashes for real (test_crash_recovery.py). Prints one JSON line: how
far the reference counts of None, True and False moved, and what ran.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _singleton_counts() -> dict[str, int]:
    gc.collect()
    return {"none": sys.getrefcount(None), "true": sys.getrefcount(True), "false": sys.getrefcount(False)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kit")
    parser.add_argument("work")
    parser.add_argument("--paints", type=int, default=1500)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--abort-when-done", action="store_true",
                        help="crash for real (SIGABRT) once the jobs are done, instead of closing")
    args = parser.parse_args()

    import PySide6
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.api import GenerateRequest
    from engine.models.registry import ModelRegistry
    from studio.app import build_studio
    from studio.theme import apply_dark_theme

    app = QApplication([])
    apply_dark_theme(app)
    work = Path(args.work)
    studio = build_studio(registry=ModelRegistry(bundled_dir=Path(args.kit)), data_dir=work / "data",
                          settings=QSettings(str(work / "studio.ini"), QSettings.IniFormat), device="cpu",
                          record_crashes=True)
    studio.window.resize(1200, 800)
    studio.window.show()
    views = [studio.window.queue_panel.view.viewport(), studio.window.candidates_strip.viewport()]

    def request(seed: int) -> GenerateRequest:
        return GenerateRequest(prompt="a red circle", output_dir=str(work), model="tiny-sd1", width=32, height=32,
                               steps=6, guidance=5.0, seed=seed, count=2)

    def all_done() -> bool:
        return all(job.done for job in studio.queue.jobs())

    # One job first, so the pipeline is loaded and caches are warm before counting starts.
    studio.controller.generate(request(1))
    deadline = time.monotonic() + 200  # generous: CI shares two cores
    while not all_done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    before = _singleton_counts()

    for seed in range(2, 2 + args.jobs):
        studio.controller.generate(request(seed))
    paints = 0
    started = time.perf_counter()
    while (paints < args.paints or not all_done()) and time.monotonic() < deadline:
        app.processEvents()
        for view in views:
            view.repaint()  # paints now, through the delegates, not when the event loop gets to it
        paints += 1
    seconds = time.perf_counter() - started
    done = all_done()
    rows = studio.window.queue_panel.view.model().rowCount()
    candidates = studio.window.candidates_strip.model().rowCount()
    if args.abort_when_done and done:
        os.abort()  # what a fatal error in the binding does: no shutdown, no cleanup
    studio.shutdown()
    app.processEvents()
    after = _singleton_counts()
    print(json.dumps({
        "python": sys.version.split()[0], "pyside6": PySide6.__version__, "jobs_done": done,
        "jobs": len(studio.queue.jobs()), "paints": paints, "queue_rows": rows, "candidate_cells": candidates,
        "seconds": round(seconds, 2), "delta": {name: after[name] - before[name] for name in before},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
