"""What the benchmark scripts share: import path, offline setting, a direct-call context, output."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def direct_context(models):
    """The context a queued job gets, for calling a task directly (the baseline)."""
    from engine.jobs import JobContext

    return JobContext(0, model_cache=models)


def machine(device: str | None = None) -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if device:
        info["device"] = device
    return info


def emit(report: dict, out: str | None) -> None:
    text = json.dumps(report, indent=2)
    if out:
        Path(out).write_text(text)
    print(text)
