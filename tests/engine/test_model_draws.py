"""The bundled model says what it can draw, from its training grammar (the prompt box shows it)."""

from engine.models.registry import ModelRegistry
from engine.toy import scenes


def test_toy_scenes_says_what_its_grammar_knows():
    spec = ModelRegistry().resolve("toy-scenes")
    assert spec.draws == scenes.what_it_draws()
    for word in (*scenes.SHAPES, *scenes.COLOURS, *scenes.POSITIONS, *scenes.BACKGROUNDS, *scenes.SIZES):
        assert word in spec.draws
    scenes.parse_caption(spec.example_prompt)  # the example is a caption the model was trained on


def test_the_motion_model_says_its_grammar_and_its_motions_in_one_sentence():
    from engine.toy import motion_scenes

    draws = motion_scenes.what_it_draws()
    assert draws.startswith(scenes.what_it_knows() + "; each object may be moving to the left")
    assert draws.count("Other words mean nothing to it.") == 1 and draws.endswith("8 frames. Other words mean nothing to it.")
    assert all(motion in draws for motion in motion_scenes.MOTIONS)
