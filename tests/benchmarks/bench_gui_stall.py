"""Longest GUI event-loop stall while 4 candidates generate and a compare runs (issue 5), or, with
--timeline, while a clip generates and an export runs at once (issue 17.7).

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_gui_stall.py [--model toy-scenes] [--out FILE]
    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_gui_stall.py --timeline [--rounds 3] [--out FILE]

A 5 ms QTimer probe records the gaps between its ticks; prints one JSON object. --timeline runs
each round twice, the window as the app builds it (heap settled, engine.heap) and without that
(the baseline), alternating, on the tiny clip kit (the bundled motion model when installed).
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
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packaging"))
from _common import emit  # noqa: E402
from screenshot import pump_events_until  # noqa: E402 - the one event-pumping loop of the window scripts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="toy-scenes")
    parser.add_argument("--out", default=None)
    parser.add_argument("--timeline", action="store_true", help="a clip and an export at once, settled heap vs not")
    parser.add_argument("--rounds", type=int, default=3)
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
    if args.timeline:
        emit(timeline_report(app, args.rounds), args.out)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-stall-"))
    studio = build_studio(registry=ModelRegistry(), data_dir=tmp, settings=QSettings(str(tmp / "s.ini"),
                                                                                     QSettings.IniFormat))
    studio.window.show()
    controller = studio.controller

    def wait_all():
        pump_events_until(app, lambda: all(job.done for job in studio.queue.jobs()))

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


def timeline_round(app, kit: Path, settle: bool, warm: bool) -> dict:
    """One clip generating while a 96-frame 320x240 export runs; the probe's figures. `warm`: the
    clip model is loaded before (else its load falls inside the measurement)."""
    import gc

    from PySide6.QtCore import QSettings

    from engine.models.registry import ModelRegistry
    from engine.timeline.model import Rate
    from engine.timeline.testing import write_numbered_video
    from stall_probe import StallProbe
    from studio.app import build_studio

    tmp = Path(tempfile.mkdtemp(prefix="bench-stall-timeline-"))
    studio = build_studio(registry=ModelRegistry(bundled_dir=kit), data_dir=tmp / "data", device="cpu",
                          settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat), settle_heap=settle)
    side = studio.window.timeline_side
    studio.window.show()
    side.session.new_project(str(tmp / "film"), Rate(24), 320, 240)
    pump_events_until(app, lambda: side.session.project is not None)
    side.add_files([str(write_numbered_video(tmp / "shot.mp4", 96, 320, 240, fps="24"))])
    pump_events_until(app, lambda: side.session.timeline.duration == 96)
    side.clips.model, side.clips.frames, side.clips.steps = "tiny-animatediff", 8, 4
    if warm:  # the model loaded by a first clip, as for every clip after a session's first
        side.clips.make_clip("a warm-up cat")
        pump_events_until(app, lambda: not side.clips.pending())
    dialog = side.export_dialog()
    pump_events_until(app, lambda: dialog.format_box.count() > 0)
    dialog.destination.setText(str(tmp / "film.mp4"))
    probe = StallProbe()
    probe.start()
    started = time.perf_counter()
    side.clips.make_clip("a red cat")
    dialog.export_button.click()
    pump_events_until(app, lambda: dialog.result is not None and not side.clips.pending())
    probe.stop()
    seconds = time.perf_counter() - started
    side.session._dirty = False
    studio.window.close()
    studio.shutdown()
    gc.unfreeze()
    return {"longest_stall_ms": round(probe.longest_stall_ms, 1), "p99_stall_ms": round(probe.percentile_ms(0.99), 1),
            "ticks": len(probe.gaps_ms), "work_seconds": round(seconds, 2)}


def timeline_report(app, rounds: int) -> dict:
    from engine.testing import VIDEO_KIT_WRITERS

    kit = Path(tempfile.mkdtemp(prefix="bench-stall-kit-"))
    for name in ("sd1", "animatediff"):
        VIDEO_KIT_WRITERS[name](kit / name)
    runs = {"settled": [], "unsettled": [], "settled_model_loading": [], "unsettled_model_loading": []}
    for _ in range(rounds):
        for name, settle in (("settled", True), ("unsettled", False)):
            runs[name].append(timeline_round(app, kit, settle, warm=True))
            runs[f"{name}_model_loading"].append(timeline_round(app, kit, settle, warm=False))
    worst = {name: max(r["longest_stall_ms"] for r in rows) for name, rows in runs.items()}
    return {
        "benchmark": "gui_stall_timeline",
        "model": "tiny-animatediff (clip) + 96-frame 320x240 MP4 export, at once; *_model_loading: the clip's "
                 "model loads inside the measurement",
        "rounds": runs,
        "worst_longest_stall_ms": worst,
        "median_longest_stall_ms": {name: sorted(r["longest_stall_ms"] for r in rows)[len(rows) // 2]
                                    for name, rows in runs.items()},
        "unsettled_over_settled_worst": round(worst["unsettled"] / max(worst["settled"], 0.1), 2),
    }


if __name__ == "__main__":
    main()
