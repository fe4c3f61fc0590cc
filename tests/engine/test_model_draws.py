"""The bundled model says what it can draw, from its training grammar (the prompt box shows it)."""

from engine.models.registry import ModelRegistry
from engine.toy import scenes


def test_toy_scenes_says_what_its_grammar_knows():
    spec = ModelRegistry().resolve("toy-scenes")
    assert spec.draws == scenes.what_it_draws()
    for word in (*scenes.SHAPES, *scenes.COLOURS, *scenes.POSITIONS, *scenes.BACKGROUNDS, *scenes.SIZES):
        assert word in spec.draws
    scenes.parse_caption(spec.example_prompt)  # the example is a caption the model was trained on
