"""What the timeline dock draws of the media, from the worker's caches: waveforms on audio clips and
frames from across video clips.

The dock here is the real TimelineState and TimelineView on a real timeline of real files; edits
are the engine's commands applied to it, as the project session would.
"""

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.timeline import commands as c
from engine.timeline.media import probe
from engine.timeline.model import Clip, Rate, Timeline, Track
from engine.timeline.testing import frame_number, write_numbered_video, write_silence_then_tone
from studio.viewmodels.timeline import TimelineState
from studio.viewmodels.timeline_previews import thumbnail_width
from studio.widgets.timeline_view import RULER_H, THUMB_GAP, TRACK_H, WAVEFORM_COLOUR, TimelineView


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


# --- frames along a clip --------------------------------------------------------------------------


def slot_number(image: np.ndarray, view, clip_rect, slot: int) -> int:
    """The frame number the filmstrip's `slot` shows (read above the clip's name)."""
    width = thumbnail_width(view.state.timeline)
    x, y = int(clip_rect.left()) + slot * (width + THUMB_GAP), int(clip_rect.top()) + 2
    return frame_number(image[y:y + 20, x:x + width])


def test_the_filmstrip_shows_frames_from_across_the_clip_and_a_trim_keeps_them(qtbot, dock, tmp_path):
    video = probe(write_numbered_video(tmp_path / "numbers.mp4", 48), "numbers")
    state, view = dock(timeline_of(8, Track("video", (Clip("numbers", 0, 48),)), media=[video]))
    qtbot.waitUntil(lambda: not state.thumbnails_pending(), timeout=30_000)
    rect = view.clip_rect(0, 0)
    slots = int(rect.width() // (thumbnail_width(state.timeline) + THUMB_GAP)) + 1
    image = pixels(view)
    shown = [slot_number(image, view, rect, slot) for slot in range(slots)]
    assert shown[0] == 0 and shown[-1] >= 36, shown  # the start and the end of the clip, not frame 0 repeated
    assert shown == sorted(shown) and len(set(shown)) == len(shown)
    rendered = dict(state.previews._frames[video])  # noqa: SLF001 - the cache, to see it kept
    assert len(rendered) <= 13

    edit(state, c.Trim(0, 0, "in", 16))  # the first 16 frames go; frames 16-47 were rendered already
    assert not state.thumbnails_pending()  # nothing to render again
    gap, clip = state.timeline.tracks[0].items  # the clip stays where its frames were
    assert (gap.duration, clip.source_in, clip.duration) == (16, 16, 32)
    assert all(state.previews._frames[video][f] is rendered[f] for f in rendered if f >= 16)  # noqa: SLF001
    image = pixels(view)
    assert slot_number(image, view, view.clip_rect(0, 1), 0) == 16
