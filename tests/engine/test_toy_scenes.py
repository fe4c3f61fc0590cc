"""The toy-scenes generator: grammar, parse round trip, determinism, drawing."""

from __future__ import annotations

import numpy as np
import pytest

from engine.toy import scenes as S


def _scenes(count, seed=0, p_two=0.4):
    rng = np.random.default_rng(seed)
    return [S.sample_scene(rng, p_two) for _ in range(count)]


def test_caption_parse_round_trip():
    for scene in _scenes(300):
        text = S.caption(scene)
        parsed = S.parse_caption(text)
        assert S.caption(parsed) == text
        assert [(o.shape, o.colour, o.position, o.size) for o in parsed.objects] == [
            (o.shape, o.colour, o.position, o.size) for o in scene.objects
        ]
        assert parsed.background == scene.background


def test_caption_examples_follow_the_grammar():
    scene = S.parse_caption("a large red circle on the left on a black background")
    assert scene.objects[0] == S.SceneObject("circle", "red", "on the left", "large")
    assert scene.background == "black"
    two = S.parse_caption("a blue square at the top and a green triangle in the center on a gray background")
    assert [o.position for o in two.objects] == ["at the top", "in the center"]
    assert all(o.size is None for o in two.objects)
    assert S.parse_caption("A  Yellow triangle at the bottom on a white background.").objects[0].colour == "yellow"


@pytest.mark.parametrize("text", [
    "a red circle",
    "a huge red circle on the left on a black background",
    "a large red circle on the left and a blue square on the right on a black background",
    "a red circle on the left and a blue square on the left on a white background",
    "a pink circle on the left on a white background",
])
def test_parse_rejects_text_outside_the_grammar(text):
    with pytest.raises(ValueError):
        S.parse_caption(text)


def test_sampling_and_rendering_are_deterministic():
    a = _scenes(20, seed=5)
    b = _scenes(20, seed=5)
    assert a == b
    for x, y in zip(a, b):
        assert np.array_equal(S.render(x), S.render(y))
    assert [S.caption(s) for s in a] != [S.caption(s) for s in _scenes(20, seed=6)]


def test_grammar_is_covered_and_two_object_share_is_about_forty_percent():
    scenes = _scenes(2000, seed=1)
    two = sum(len(s.objects) == 2 for s in scenes) / len(scenes)
    assert 0.35 < two < 0.45
    objs = [o for s in scenes for o in s.objects]
    assert {o.shape for o in objs} == set(S.SHAPES)
    assert {o.colour for o in objs} == set(S.COLOURS)
    assert {o.position for o in objs} == set(S.POSITIONS)
    assert {s.background for s in scenes} == set(S.BACKGROUNDS)
    assert {o.size for s in scenes if len(s.objects) == 1 for o in s.objects} == {None, "small", "large"}
    assert all(s.objects[0].position != s.objects[1].position for s in scenes if len(s.objects) == 2)


def test_vocabulary_spells_every_caption():
    vocab = set(S.VOCABULARY)
    for scene in _scenes(200, seed=2):
        assert set(S.caption(scene).split()) <= vocab


def test_render_draws_the_object_in_its_region_with_antialiased_edges():
    for position in S.POSITIONS:
        scene = S.parse_caption(f"a large blue square {position} on a white background")
        image = S.render(scene)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert S.dominant_object(image, "white") == ("blue", position)
        levels = np.unique(image[..., 2])
        assert len(levels) > 3  # antialiased edges give intermediate values
    black = S.render(S.parse_caption("a small red triangle at the top on a black background"))
    assert black[60, 2].max() < 40


def test_variations_change_pixels_but_not_the_caption():
    rng = np.random.default_rng(3)
    base = S.parse_caption("a red circle in the center on a gray background")
    images = set()
    for _ in range(5):
        scene = S.sample_scene(rng)
        varied = S.Scene((S._vary(rng, base.objects[0], False),), "gray")
        assert S.caption(varied) == S.caption(base)
        images.add(S.render(varied).tobytes())
    assert len(images) == 5


def test_dominant_object_reads_each_colour():
    for colour in S.COLOURS:
        for bg in S.BACKGROUNDS:
            image = S.render(S.parse_caption(f"a {colour} circle on the right on a {bg} background"))
            assert S.dominant_object(image, bg) == (colour, "on the right")
