"""What the timeline dock draws of the media, from the worker's caches: waveforms on audio clips, frames
from across video clips, and the continuity/identity badges at cuts with their tooltips.

The dock here is the real TimelineState and TimelineView on a real timeline of real files; edits
are the engine's commands applied to it, as the project session would.
"""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF
from PySide6.QtGui import QHelpEvent, QImage
from PySide6.QtWidgets import QToolTip

from engine.timeline import commands as c
from engine.timeline.media import probe
from engine.timeline.model import Clip, Rate, Timeline, Track
from engine.timeline.testing import frame_number, write_numbered_video, write_silence_then_tone, write_still
from studio.viewmodels.timeline import TimelineState
from studio.viewmodels.timeline_previews import continuity_grade, thumbnail_width
from studio.widgets.timeline_view import GRADE_COLOURS, RULER_H, THUMB_GAP, TRACK_H, WAVEFORM_COLOUR, TimelineView


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
    for zoom in (8.0, 20.0):  # and again once zoomed: the lines the view keeps follow the clip's new width
        state.set_zoom(zoom)
        rect = view.clip_rect(1, 0)
        wave = np.all(pixels(view) == WAVEFORM_COLOUR.getRgb()[:3], axis=2)
        top, bottom = int(rect.top()), int(rect.bottom())

        def extent(x: int) -> int:
            rows = np.nonzero(wave[top:bottom, x])[0]
            return int(rows.max() - rows.min() + 1) if len(rows) else 0

        left, middle, right = int(rect.left()) + 2, int(rect.center().x()), int(rect.right()) - 2
        quiet = [extent(x) for x in range(left, middle - 2)]
        loud = [extent(x) for x in range(middle + 2, right)]
        assert max(quiet) <= 2, (zoom, quiet)
        assert min(loud) >= 0.5 * rect.height(), (zoom, loud)


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


# --- badges at cuts -------------------------------------------------------------------------------


def test_cut_badges_grade_continuity_and_their_tooltips_give_the_figures(qtbot, dock, tmp_path):
    video = probe(write_numbered_video(tmp_path / "numbers.mp4", 12), "numbers")  # 36 frames at 24 fps
    red = probe(write_still(tmp_path / "red.png", (230, 20, 20)), "red")
    track = Track("video", (Clip("numbers", 0, 36), Clip("red", 0, 12)))
    state, view = dock(timeline_of(24, track, media=[video, red]))
    edit(state, c.Split(0, 20))  # project frames 19 and 20 both show media frame 6: the same picture
    qtbot.waitUntil(lambda: len(list(view.badges())) == 2, timeout=30_000)
    (first, at_split, same), (second, at_still, unrelated) = view.badges()
    assert (at_split, at_still) == (20, 36)
    assert same["ssim"] == pytest.approx(1.0) and continuity_grade(same["ssim"]) == "good"
    assert unrelated["ssim"] < 0.5 and continuity_grade(unrelated["ssim"]) == "poor"
    image = pixels(view)
    for rect, grade in ((first, "good"), (second, "poor")):  # drawn in their grade's colour (left of the text)
        assert tuple(image[int(rect.center().y()), int(rect.left()) + 3]) == GRADE_COLOURS[grade].getRgb()[:3]

    assert view.tooltip_at(first.center()) == (
        "Continuity at 00:00:00:20 \u2014 SSIM 1.00, histogram 1.00, jump 0.0 px")
    assert view.tooltip_at(QPointF(first.right() + 40, first.center().y())) is None
    centre = first.center().toPoint()
    view.event(QHelpEvent(QEvent.ToolTip, centre, view.mapToGlobal(centre)))
    assert QToolTip.text().startswith("Continuity at 00:00:00:20 \u2014 SSIM 1.00")
    assert "identity" not in QToolTip.text()  # neither clip has a sidecar
    QToolTip.hideText()


def test_continuity_grades_follow_the_thresholds():
    assert [continuity_grade(v) for v in (1.0, 0.8, 0.79, 0.5, 0.49, -0.2)] == [
        "good", "good", "fair", "fair", "poor", "poor"]


def test_the_identity_figure_shows_only_after_a_clip_whose_sidecar_records_references(qtbot, dock, tmp_path):
    from engine.api import ClipRequest
    from engine.clips.files import write_clip
    from PIL import Image

    from engine.timeline.testing import numbered_frame

    frames = np.stack([numbered_frame(k, 64, 48) for k in range(8)])
    reference = tmp_path / "subject.png"
    Image.fromarray(frames[0]).save(reference)  # the shot's first frame: its identity is near 1
    request = ClipRequest(prompt="numbers", output_dir=str(tmp_path), fps=8,
                          identity_references=(str(reference),))
    made = write_clip(frames, None, request, tmp_path / "clips", "shot", {"family": "animatediff"})
    generated = probe(made.path, "shot")
    plain = probe(write_numbered_video(tmp_path / "plain.mp4", 8), "plain")
    track = Track("video", (Clip("plain", 0, 8), Clip("shot", 0, 8), Clip("plain", 0, 8)))
    state, view = dock(timeline_of(8, track, media=[plain, generated]))
    qtbot.waitUntil(lambda: len(list(view.badges())) == 2, timeout=60_000)
    (into_shot, _, with_references), (after_shot, _, without) = view.badges()
    assert with_references["references"] == 1 and with_references["identity"] > 0.9
    assert without["identity"] is None
    tip = view.tooltip_at(into_shot.center())
    assert tip.endswith(f"; identity {with_references['identity']:.2f} (1 reference)"), tip
    assert "identity" not in view.tooltip_at(after_shot.center())


def test_a_damaged_sidecar_gives_a_grey_badge_that_says_why(qtbot, dock, tmp_path):
    plain = probe(write_numbered_video(tmp_path / "plain.mp4", 8), "plain")
    broken = probe(write_numbered_video(tmp_path / "broken.mp4", 8), "broken")
    (tmp_path / "broken.clip.json").write_text("{not json", encoding="utf-8")
    state, view = dock(timeline_of(8, Track("video", (Clip("plain", 0, 8), Clip("broken", 0, 8))),
                                   media=[plain, broken]))
    qtbot.waitUntil(lambda: len(list(view.badges())) == 1, timeout=30_000)
    (rect, _, measures), = view.badges()
    assert isinstance(measures, str) and "broken.clip.json is not a clip sidecar" in measures
    assert view.tooltip_at(rect.center()).startswith("Continuity at 00:00:01:00: not measured (broken.clip.json")
