"""Measure how long the GUI event loop goes without running: a 5 ms timer and the gaps between its ticks."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Qt


class StallProbe(QObject):
    def __init__(self, interval_ms: int = 5, parent=None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self, interval=interval_ms, timerType=Qt.PreciseTimer, timeout=self._tick)
        self._last = None
        self.gaps_ms: list[float] = []

    def start(self) -> None:
        self.gaps_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps_ms.append((now - self._last) * 1000.0)
        self._last = now

    @property
    def longest_stall_ms(self) -> float:
        """The longest gap beyond the timer's own interval."""
        return max((gap - self.interval_ms for gap in self.gaps_ms), default=0.0)

    def percentile_ms(self, fraction: float) -> float:
        if not self.gaps_ms:
            return 0.0
        ordered = sorted(self.gaps_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] - self.interval_ms
