"""The motion bar: clips whose objects move as their captions say pass it, a zero-initialised
adapter (every motion module the identity: toy-scenes frame by frame) fails it; and the bundled
motion model, once shipped, is listed offline as the default clip model and passes it."""

import json

import numpy as np
import pytest

from engine.paths import bundled_models_dir
from engine.toy import evaluate_motion as E
from engine.toy import motion_checker as C
from engine.toy import motion_scenes as M

FOLDER = bundled_models_dir() / "toy-scenes-motion"
CAPTIONS = [  # one per direction
    "a red circle on the left moving to the right on a black background",
    "a large blue square in the center moving to the left on a white background",
    "a yellow triangle at the top moving down on a gray background",
    "a green circle at the bottom moving up on a black background",
]
BAR = 0.5  # share of CAPTIONS whose clip moves the named way
bundled = pytest.mark.skipif(not FOLDER.is_dir(), reason="toy-scenes-motion is not bundled (engine/toy/README.md)")


def _motion_rate(model: str, tmp_path) -> float:
    from engine.models.cache import ModelCache

    models = ModelCache()
    oks = []
    for index, text in enumerate(CAPTIONS):
        frames, _ = E.make_clip(models, model, text, index, tmp_path / f"{index}")
        oks.append(C.check_clip(frames, text).all_motion_ok)
    return float(np.mean(oks))


def test_ground_truth_clips_pass_the_bar():
    assert np.mean([C.check_clip(M.render_clip(t), t).all_motion_ok for t in CAPTIONS]) == 1.0


def test_zero_initialised_adapter_fails_the_bar(tmp_path):
    from engine.toy.training import export_motion as X
    from engine.toy.training import train_motion as TM

    TM.train(tmp_path / "run", 600, 0, 600, max_steps=0, threads=1, gap_clips=2)  # no step: as initialised
    dest = tmp_path / "zero" / "toy-scenes-motion"
    X.export(tmp_path / "run", dest)
    assert _motion_rate(str(dest), tmp_path / "clips") < BAR


@bundled
def test_bundled_motion_model_is_listed_offline_as_the_default_clip_model():
    from engine.models.registry import ModelRegistry

    registry = ModelRegistry()
    spec = {s.id: s for s in registry.list()}["toy-scenes-motion"]
    assert (spec.family, spec.base, spec.available) == ("animatediff", "toy-scenes", True)
    assert registry.default_clip_model().id == "toy-scenes-motion"
    manifest = json.loads((FOLDER / "latent-studio.json").read_text())
    assert manifest["default_frames"] >= 8 and manifest["native_size"] == [64, 64]
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size <= 25 * 2**20 and not list(FOLDER.rglob("*.bin"))


@bundled
def test_bundled_motion_model_passes_the_bar(tmp_path):
    assert _motion_rate("toy-scenes-motion", tmp_path) >= BAR


@bundled
def test_bundled_motion_model_is_deterministic_and_reads_the_prompt_in_its_motion_modules(tmp_path):
    from engine.models.cache import ModelCache

    models = ModelCache()
    text = CAPTIONS[0]
    first, _ = E.make_clip(models, "toy-scenes-motion", text, 3, tmp_path / "a")
    again, _ = E.make_clip(models, "toy-scenes-motion", text, 3, tmp_path / "b")
    assert np.array_equal(first, again)
    assert (FOLDER / "motion_text.safetensors").is_file()  # the motion words' way in (engine.models.motion_text)


@bundled
def test_a_clip_jobs_step_preview_shows_the_clips_colours(tmp_path, make_direct_context):
    """The live preview maps latents with the decoding VAE's own fit (the adapter's base, toy-scenes):
    through SD's factors the toy latents showed this black background as (84, 126, 183), blue, and
    through toy-scenes' old linear fit this square as (15, 13, 84), green; its degree-3 fit reads the
    square (56, 62, 148) where the decoded frame has about (38, 70, 190)."""
    import cv2

    from engine.api import ClipRequest
    from engine.clips.files import read_frames
    from engine.models.cache import ModelCache
    from engine.tasks import clip
    from engine.toy import scenes as S

    context = make_direct_context(ModelCache())
    request = ClipRequest(prompt="a large blue square in the center on a black background", output_dir=str(tmp_path),
                          model="toy-scenes-motion", seed=2)
    frames = read_frames(clip.run(request, context).clip.master)
    preview = context.progress[-1][2].astype(np.float32)
    middle = cv2.resize(frames[len(frames) // 2], preview.shape[1::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
    square = np.abs(middle - S.BACKGROUNDS["black"]).max(axis=2) > 60
    assert S.nearest_colour(preview[square].mean(axis=0)) == "blue"
    background_error = np.abs(preview[~square].mean(axis=0) - middle[~square].mean(axis=0))
    assert background_error.max() < 50, background_error  # the degree-3 fit: 29 at most (linear: 33-57)
