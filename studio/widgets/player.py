"""The preview player: the timeline's frame at the playhead, and playback at the project rate.

Frames come from one engine FrameRenderer (it keeps its decoders open, so playing in order
decodes each frame once) on a one-thread pool: a renderer is not for two threads at once, and
the GUI thread never decodes. Playback follows the clock, not the frames: each tick shows the
frame due now, and when rendering cannot keep up the frames in between are skipped and
counted in the "dropped" label, so the picture stays in time with the rate.

Keys (Kdenlive's and Shotcut's): Space play/pause, J/K/L shuttle (L again: faster), Left/Right
a frame, Home/End, I/O in and out marks.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from studio.background import BackgroundCalls
from studio.icons import icon
from studio.images import to_qimage
from studio.viewmodels.timeline import TimelineState, timecode

PREVIEW_HEIGHT = 270  # frames are rendered this high: the preview, not the export's size
SPEEDS = (1, 2, 4, 8)


def render_preview(renderer, frame: int):
    return to_qimage(renderer.render_frame(frame))


class PlayerWidget(QWidget):
    frame_shown = Signal(int)

    def __init__(self, state: TimelineState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("Player")
        self.state = state
        self.speed = 0  # frames of the project rate per frame of the clock; negative: backwards
        self.dropped = 0
        self.shown: int | None = None
        self.mark_in: int | None = None
        self.mark_out: int | None = None
        self._renderer = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._frames = BackgroundCalls(latest_only=True, pool=self._pool, parent=self)
        self._clock: tuple[float, int] | None = None  # (time playback started, frame it started at)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.timeout.connect(self._tick)

        self.picture = QLabel(alignment=Qt.AlignCenter)
        self.picture.setMinimumSize(QSize(240, 135))
        self.picture.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.picture.setStyleSheet("background: black")
        self.timecode = QLabel("00:00:00:00")
        self.timecode.setObjectName("PlayerTimecode")
        self.dropped_label = QLabel("")
        self.play_button = QToolButton()
        self.play_button.setIcon(icon("play"))
        self.play_button.setText("Play")
        self.play_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.play_button.setToolTip("Play / pause (Space); J, K, L shuttle; arrows step a frame")
        self.play_button.clicked.connect(self.toggle_play)
        bar = QHBoxLayout()
        bar.addWidget(self.play_button)
        bar.addWidget(self.timecode)
        bar.addStretch(1)
        bar.addWidget(self.dropped_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addLayout(bar)
        state.playhead_changed.connect(self._request)

    # --- the timeline ----------------------------------------------------------------------

    def set_timeline(self, timeline) -> None:
        """A new renderer for a new timeline value (the old one's decoders close on the worker)."""
        from engine.timeline.render import FrameRenderer

        old, self._renderer = self._renderer, None
        if old is not None:
            self._frames.call(old.close, lambda _r: None, lambda _t: None)
        if timeline is not None and timeline.tracks:
            width = max(2, round(PREVIEW_HEIGHT * timeline.width / timeline.height))
            self._renderer = FrameRenderer(timeline, width, PREVIEW_HEIGHT)
        self._request(self.state.playhead)

    def _request(self, frame: int) -> None:
        timeline = self.state.timeline
        self.timecode.setText(timecode(frame, timeline.rate.fps) if timeline else "00:00:00:00")
        if self._renderer is None:
            self.picture.clear()
            return
        renderer = self._renderer
        self._frames.call(lambda: render_preview(renderer, frame), lambda image: self._show(frame, image),
                          lambda text: self.dropped_label.setText(f"Cannot show frame {frame}: {text}"))

    def _show(self, frame: int, image) -> None:
        if image is not None:
            self.picture.setPixmap(QPixmap.fromImage(image).scaled(
                self.picture.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))
        self.shown = frame
        self.frame_shown.emit(frame)

    def busy(self) -> bool:
        return self._frames.pending()

    # --- transport -------------------------------------------------------------------------

    def playing(self) -> bool:
        return self.speed != 0

    def toggle_play(self) -> None:
        self.shuttle(0 if self.playing() else 1)

    def shuttle(self, speed: int) -> None:
        """Play at `speed` times the rate (negative: backwards); 0 pauses."""
        timeline = self.state.timeline
        if speed == 0 or timeline is None or not timeline.duration:
            self.speed = 0
            self._timer.stop()
            self.play_button.setText("Play")
            self.play_button.setIcon(icon("play"))
            return
        if self.speed == 0 and speed > 0 and self.state.playhead >= self._end() - 1:
            self.state.set_playhead(self._start())  # play again from the start, as editors do
        self.speed = speed
        self.dropped = 0
        self.dropped_label.setText("")
        self._clock = (time.perf_counter(), self.state.playhead)
        self._timer.start(max(1, round(1000 / (timeline.rate.fps * abs(speed)))))
        self.play_button.setText("Pause")
        self.play_button.setIcon(icon("pause"))

    def forward(self) -> None:  # L: play, then faster
        self.shuttle(self._faster(1))

    def backward(self) -> None:  # J
        self.shuttle(self._faster(-1))

    def _faster(self, direction: int) -> int:
        if self.speed * direction <= 0:
            return direction
        index = min(SPEEDS.index(abs(self.speed)) + 1, len(SPEEDS) - 1)
        return direction * SPEEDS[index]

    def pause(self) -> None:  # K
        self.shuttle(0)

    def step(self, frames: int) -> None:
        self.pause()
        self.state.set_playhead(self.state.playhead + frames)

    def home(self) -> None:
        self.pause()
        self.state.set_playhead(0)

    def end(self) -> None:
        self.pause()
        self.state.set_playhead(max(0, self.state.duration - 1))

    def set_in(self) -> None:
        self.mark_in = self.state.playhead

    def set_out(self) -> None:
        self.mark_out = self.state.playhead

    def _start(self) -> int:
        return self.mark_in or 0

    def _end(self) -> int:
        return self.mark_out + 1 if self.mark_out is not None else self.state.duration

    def _tick(self) -> None:
        started, origin = self._clock
        due = origin + round((time.perf_counter() - started) * self.state.timeline.rate.fps * self.speed)
        last = self._end() - 1
        if due > last or due < 0:
            self.state.set_playhead(max(0, min(due, last)))
            self.pause()
            return
        if self._frames.pending():
            return  # the frame before is still rendering: this one is skipped, counted when the next shows
        skipped = abs(due - self.state.playhead) - 1
        if skipped > 0:
            self.dropped += skipped
            self.dropped_label.setText(f"dropped {self.dropped} frames")
        self.state.set_playhead(due)
