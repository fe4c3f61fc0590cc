"""The status bar: device, current model, memory, and the last message."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar


def process_memory_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def gpu_memory_mb() -> float | None:
    import sys

    torch = sys.modules.get("torch")  # only if a job already loaded it: the status bar never imports torch
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.memory_allocated() / 1e6


class StudioStatusBar(QStatusBar):
    def __init__(self, device: str, parent=None):
        super().__init__(parent)
        self.device_label = QLabel(f"Device: {device}")
        self.model_label = QLabel("Model: —")
        self.memory_label = QLabel()
        for label in (self.model_label, self.device_label, self.memory_label):
            self.addPermanentWidget(label)
        self._timer = QTimer(self, interval=2000, timeout=self.refresh_memory)
        self._timer.start()
        self.refresh_memory()

    def set_model(self, model_id: str) -> None:
        self.model_label.setText(f"Model: {model_id}")

    def refresh_memory(self) -> None:
        text = f"RAM {process_memory_mb():.0f} MB"
        gpu = gpu_memory_mb()
        if gpu is not None:
            text += f" · VRAM {gpu:.0f} MB"
        self.memory_label.setText(text)
