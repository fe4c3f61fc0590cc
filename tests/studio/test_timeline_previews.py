"""What the timeline dock draws of the media, from the worker's caches: waveforms on audio clips.

The dock here is the real TimelineState and TimelineView on a real timeline of real files; edits
are the engine's commands applied to it, as the project session would.
"""

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.timeline.media import probe
from engine.timeline.model import Clip, Rate, Timeline, Track
from engine.timeline.testing import write_silence_then_tone
from studio.viewmodels.timeline import TimelineState
from studio.widgets.timeline_view import RULER_H, TRACK_H, WAVEFORM_COLOUR, TimelineView


def pixels(view) -> np.ndarray:
    image = view.grab().toImage().convertToFormat(QImage.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return rows.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3).copy()  # the QImage's buffer goes with it


@pytest.fixture
def dock(qtbot):
    """dock(timeline) -> (state, view), the view 900 px wide at 8 px a frame; waits for the worker at the end."""
    made = []

    def build(timeline: Timeline):
        state = TimelineState()
        view = TimelineView(state, lambda command: edit(state, command))
        qtbot.addWidget(view)
        view.resize(900, RULER_H + 3 * TRACK_H)
        state.set_zoom(8.0)
        state.set_timeline(timeline)
        made.append(state)
        return state, view

    yield build
    for state in made:
        qtbot.waitUntil(lambda: not state.thumbnails_pending(), timeout=30_000)


def edit(state: TimelineState, command) -> None:
    """What the project session does with the view's commands, minus the undo stack."""
    state.set_timeline(command.apply(state.timeline))


def timeline_of(rate: int, *tracks: Track, media=()) -> Timeline:
    return Timeline(Rate(rate), 64, 48, tracks=tracks, media=tuple(media))


# --- waveforms ----------------------------------------------------------------------------------


def test_an_audio_clip_shows_its_waveform_flat_over_silence_and_tall_over_the_tone(qtbot, dock, tmp_path):
    sound = probe(write_silence_then_tone(tmp_path / "half.wav", 1.0, 1.0), "half")
    clip = Clip("half", 0, 16)  # two seconds at 8 fps: silent for the first 8 frames
    state, view = dock(timeline_of(8, Track("video"), Track("audio", (clip,)), media=[sound]))
    qtbot.waitUntil(lambda: state.previews.waveform(clip) is not None, timeout=30_000)
    rect = view.clip_rect(1, 0)
    wave = np.all(pixels(view) == WAVEFORM_COLOUR.getRgb()[:3], axis=2)
    top, bottom = int(rect.top()), int(rect.bottom())

    def extent(x: int) -> int:
        rows = np.nonzero(wave[top:bottom, x])[0]
        return int(rows.max() - rows.min() + 1) if len(rows) else 0

    left, middle, right = int(rect.left()) + 2, int(rect.center().x()), int(rect.right()) - 2
    quiet = [extent(x) for x in range(left, middle - 2)]
    loud = [extent(x) for x in range(middle + 2, right)]
    assert max(quiet) <= 2, quiet
    assert min(loud) >= 0.5 * rect.height(), loud
