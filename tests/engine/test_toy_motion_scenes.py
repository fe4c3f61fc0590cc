"""Moving toy scenes: the grammar round-trips and the ground-truth clips move as their captions say."""

import numpy as np
import pytest

from engine.toy import checker
from engine.toy import motion_scenes as M
from engine.toy import scenes as S


def _object_mask(frame, background):
    img = frame.astype(np.float32)
    return (img.max(axis=2) - img.min(axis=2) > 60) & (np.abs(img - S.BACKGROUNDS[background]).max(axis=2) > 40)


def _track(clip_frames, background):
    """(centroid x, y; area) of the object per frame, edge pixels weighted by their coverage
    (chroma: the background is grey), so sub-pixel steps show."""
    out = []
    for frame in clip_frames:
        img = frame.astype(np.float32)
        weight = np.clip((img.max(axis=2) - img.min(axis=2)) / 120.0, 0, 1)
        ys, xs = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
        out.append(((xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum(), weight.sum()))
    return np.array(out)


def test_captions_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(300):
        clip = M.sample_clip(rng)
        text = M.motion_caption(clip)
        back = M.parse_motion_caption(text)
        assert back.motions == clip.motions, text
        assert S.caption(back.scene) == S.caption(clip.scene)
        assert M.still_caption(text) == S.caption(clip.scene)


def test_motion_phrase_follows_its_object():
    clip = M.parse_motion_caption("a red circle on the left and a blue square at the top moving down on a white background")
    assert clip.motions == (None, "moving down")
    clip = M.parse_motion_caption("a red circle on the left growing and a blue square at the top on a white background")
    assert clip.motions == ("growing", None)


def test_still_word_marks_each_object_without_a_motion_phrase_and_nothing_else():
    assert M.mark_still("A red circle on the left on a black background.", "still") == (
        "a red circle on the left still on a black background")
    assert M.mark_still("a blue circle on the left moving up and a yellow square on the right on a black background",
                        "still") == ("a blue circle on the left moving up and a yellow square on the right still "
                                     "on a black background")
    moving = "a large blue square in the center growing on a white background"
    assert M.mark_still(moving, "still") == moving
    assert M.mark_still("a cat on a sofa", "still") == "a cat on a sofa"  # outside the grammar: as given
    still = "a red circle on the left on a black background"
    assert M.mark_still(still, "") == still  # a model without the word reads prompts as given
    rng = np.random.default_rng(5)
    for _ in range(300):  # the prompt the clip task writes is the caption training wrote for that clip
        clip = M.sample_clip(rng, p_two=0.5, p_still=0.5)
        assert M.mark_still(M.motion_caption(clip), "still") == M.motion_caption(clip, "still")
        assert M.motion_caption(clip, "still").count(" still ") == clip.motions.count(None)


@pytest.mark.parametrize("text", [
    "a red circle moving to the left on the left on a black background",  # motion before the position
    "a red circle on the left moving sideways on a black background",
    "a red circle on the left moving up growing on a black background",
])
def test_outside_the_grammar_is_refused(text):
    with pytest.raises(ValueError):
        M.parse_motion_caption(text)


@pytest.mark.parametrize("motion,axis,sign", [("moving to the left", 0, -1), ("moving to the right", 0, 1),
                                              ("moving up", 1, -1), ("moving down", 1, 1)])
def test_ground_truth_moves_the_named_way_smoothly(motion, axis, sign):
    frames = M.render_clip(f"a red circle in the center {motion} on a black background")
    track = _track(frames, "black")
    steps = np.diff(track[:, axis])
    assert np.all(sign * steps > 0.5) and np.all(sign * steps < 2.0), steps  # 0.5-2 px per frame
    assert sign * (track[-1, axis] - track[0, axis]) >= 4
    other = track[:, 1 - axis]
    assert np.ptp(other) < 0.2
    assert np.ptp(track[:, 2]) <= 0.05 * track[0, 2]  # size kept


@pytest.mark.parametrize("motion,sign", [("growing", 1), ("shrinking", -1)])
def test_ground_truth_grows_and_shrinks(motion, sign):
    track = _track(M.render_clip(f"a blue square on the left {motion} on a white background"), "white")
    assert sign * (track[-1, 2] / track[0, 2] - 1) >= 0.2
    assert np.all(sign * np.diff(track[:, 2]) > 0)
    edge = np.abs(np.diff(np.sqrt(track[:, 2] / np.pi)))  # the radius of a disc of that area, px per frame
    assert 0.5 <= edge.mean() <= 2.0 and edge.min() > 0.25, edge  # 0.5-2 px a frame, as the directions
    assert np.ptp(track[:, 0]) < 1.0 and np.ptp(track[:, 1]) < 1.0  # grows in place


def test_still_object_stays_and_first_frame_is_the_toy_scene():
    text = "a green triangle at the top moving to the right and a yellow circle at the bottom on a gray background"
    frames = M.render_clip(text)
    assert frames.shape == (M.DEFAULT_FRAMES, 64, 64, 3)
    assert np.array_equal(frames[0][40:], frames[-1][40:])  # the still circle's half of the frame
    assert checker.check(frames[0], M.still_caption(text)).all_correct


def test_random_clips_keep_colour_and_stay_in_the_frame():
    rng = np.random.default_rng(11)
    videos, captions, clips = M.render_clips(rng, 40, p_two=0.0)
    for video, text, clip in zip(videos, captions, clips):
        first = checker.check(video[0], M.still_caption(text))
        last_scene = M.scene_at(clip, M.DEFAULT_FRAMES - 1)
        assert first.background and all(first.colour_position), text
        colours = {S.nearest_colour(f[_object_mask(f, clip.scene.background)].mean(axis=0)) for f in video}
        assert colours == {clip.scene.objects[0].colour}, text
        o = last_scene.objects[0]
        assert abs(o.dx) < 0.2 and abs(o.dy) < 0.2


def test_rendering_is_deterministic():
    a = M.render_clips(np.random.default_rng(5), 3)[0]
    b = M.render_clips(np.random.default_rng(5), 3)[0]
    assert np.array_equal(a, b)


def test_still_share_sets_how_many_objects_have_no_motion_phrase():
    rng = np.random.default_rng(3)
    _, captions, clips = M.render_clips(rng, 8, p_two=0.5, p_still=1.0)
    assert all(m is None for clip in clips for m in clip.motions)
    assert not any(phrase in text for text in captions for phrase in M.MOTIONS)
    clips = [M.sample_clip(rng, p_two=0.0, p_still=0.0) for _ in range(40)]
    assert all(clip.motions[0] for clip in clips)
    share = np.mean([clip.motions[0] is None for clip in (M.sample_clip(rng, p_two=0.0, p_still=0.5) for _ in range(400))])
    assert 0.4 < share < 0.6
