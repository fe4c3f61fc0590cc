"""Longest GUI event-loop stall while 4 candidates generate and a compare runs (issue 5).

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_gui_stall.py [--model toy-scenes] [--out FILE]

A 5 ms QTimer probe records the gaps between its ticks; prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studio"))
from _common import emit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="toy-scenes")
    parser.add_argument("--out", default=None)
    parser.add_argument("--torch-defaults", action="store_true",
                        help="leave OpenMP as torch sets it, instead of the window's thread policy")
    args = parser.parse_args()

    if not args.torch_defaults:
        from engine.threads import apply_thread_policy

        apply_thread_policy(gui=True)  # as the window's launcher does, before torch loads
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.api import GenerateRequest
    from engine.models.registry import ModelRegistry
    from studio.app import build_studio
    from stall_probe import StallProbe  # tests/studio: a measuring instrument, not part of the app
    from studio.theme import apply_dark_theme

    app = QApplication([])
    apply_dark_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="bench-stall-"))
    studio = build_studio(registry=ModelRegistry(), data_dir=tmp, settings=QSettings(str(tmp / "s.ini"),
                                                                                     QSettings.IniFormat))
    studio.window.show()
    controller = studio.controller

    def wait_all():
        while not all(job.done for job in studio.queue.jobs()):
            app.processEvents()
            time.sleep(0.001)

    request = GenerateRequest(prompt="a red circle on the left on a black background", output_dir="",
                              model=args.model, seed=1, count=1)  # the controller sets the folder
    controller.generate(request)
    wait_all()
    studio.window.document.open_image(studio.queue.jobs()[0].result.images[0].path)

    probe = StallProbe()
    probe.start()
    started = time.perf_counter()
    controller.generate(replace(request, seed=2, count=4))
    controller.compare(1, 1)
    wait_all()
    elapsed = time.perf_counter() - started
    probe.stop()
    report = {
        "benchmark": "gui_stall",
        "model": args.model,
        "work": "generate x4 + compare",
        "thread_policy": "torch defaults" if args.torch_defaults else "engine.threads (window)",
        "work_seconds": elapsed,
        "ticks": len(probe.gaps_ms),
        "longest_stall_ms": probe.longest_stall_ms,
        "p99_stall_ms": probe.percentile_ms(0.99),
        "median_gap_ms": probe.percentile_ms(0.5) + probe.interval_ms,
    }
    studio.shutdown()
    emit(report, args.out)


if __name__ == "__main__":
    main()
