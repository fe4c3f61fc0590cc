"""The motion model's parts: the clip checker, the text side with motion words, and the training
recipe end to end (train, resume, export, load, make a clip) on a few steps."""

import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from engine.toy import motion_checker as C
from engine.toy import motion_scenes as M


@pytest.mark.parametrize("motion", list(M.MOTIONS))
def test_checker_passes_ground_truth_and_fails_it_reversed(motion):
    text = f"a red square in the center {motion} on a black background"
    frames = M.render_clip(text)
    result = C.check_clip(frames, text)
    assert result.all_motion_ok and result.first_frame_ok and result.flicker_ok
    assert result.objects[0].colour_frames == result.objects[0].shape_frames == len(frames)
    assert not C.check_clip(frames[::-1], text).all_motion_ok  # the opposite motion
    assert not C.check_clip(np.stack([frames[0]] * len(frames)), text).all_motion_ok  # standing still


def test_checker_still_objects_and_two_objects():
    text = "a blue circle on the left and a yellow triangle on the right moving down on a white background"
    frames = M.render_clip(text)
    result = C.check_clip(frames, text)
    assert [o.motion_ok for o in result.objects] == [True, True]
    assert result.objects[0].travel_px == (0.0, 0.0)
    moved = M.render_clip("a blue circle on the left moving to the right and a yellow triangle on the right "
                          "moving down on a white background")
    assert [o.motion_ok for o in C.check_clip(moved, text).objects] == [False, True]  # the still one moved


def test_checker_flags_flicker_and_lost_colour():
    text = "a green circle at the top moving to the left on a gray background"
    frames = M.render_clip(text).copy()
    jumpy = frames.copy()
    jumpy[4] = M.render_clip("a green circle at the bottom on a gray background")[0]
    assert not C.check_clip(jumpy, text).flicker_ok
    faded = frames.copy()
    faded[3] = 128
    track = C.check_clip(faded, text).objects[0]
    assert track.colour_frames == len(frames) - 1


def test_motion_text_side_leaves_toy_scenes_captions_as_they_were(tmp_path):
    import torch
    from transformers import CLIPTextModel, CLIPTokenizer

    from engine.toy.training import train_motion as TM

    base = TM.base_folder()
    tokenizer = TM.motion_tokenizer(base, tmp_path / "tok")
    old_tok = CLIPTokenizer.from_pretrained(base / "tokenizer")
    text, old_vocab, old_positions = TM.motion_text_encoder(base, len(tokenizer))
    old_text = CLIPTextModel.from_pretrained(base / "text_encoder").eval()
    for word in M.MOTION_WORDS:
        assert len(tokenizer.tokenize(word)) == 1
    # "to" already was a piece of "top"/"bottom"; the other five are new (and trained) tokens
    assert sorted(w for w in M.MOTION_WORDS if tokenizer.convert_tokens_to_ids(w) >= old_vocab) == [
        "down", "growing", "moving", "shrinking", "up"]
    caption = "a small red circle at the bottom on a black background"
    ids = TM.tokenize(tokenizer, [caption])
    old_ids = old_tok([caption], padding="max_length", max_length=old_positions, return_tensors="pt").input_ids
    assert torch.equal(ids[:, :old_positions], old_ids)
    with torch.no_grad():
        new = text(input_ids=ids).last_hidden_state[:, :old_positions]
        old = old_text(input_ids=old_ids).last_hidden_state
    assert torch.allclose(new, old, atol=1e-5)
    longest = ("a purple triangle at the bottom moving to the right and a orange square at the top moving to the "
               "left on a white background")
    assert len(tokenizer(longest).input_ids) <= TM.MAX_TOKENS  # nothing cut off


def test_train_resume_export_load(tmp_path):
    import torch

    from engine.toy import evaluate_motion as E
    from engine.toy.training import export_motion as X
    from engine.toy.training import train_motion as TM

    run = tmp_path / "run"
    first = TM.train(run, 600, 0, 600, max_steps=2, threads=1, batch=1, gap_every=0, gap_clips=2)
    assert first["step"] == 2
    tokens_after_two = first["token_rows"].clone()
    resumed = TM.train(run, 600, 0, 600, max_steps=3, threads=1, batch=1, gap_every=0, gap_clips=2)
    assert resumed["step"] == 3
    gaps = json.loads(resumed["gaps"])  # right vs opposite motion words, measured at the end of each run
    assert [g["step"] for g in gaps] == [2, 3] and all(g["900"]["right"] > 0 for g in gaps)
    old_vocab = resumed["old_vocab"]
    assert not torch.equal(resumed["token_rows"][old_vocab:], tokens_after_two[old_vocab:])  # motion words train
    assert torch.equal(resumed["token_rows"][:old_vocab], tokens_after_two[:old_vocab])  # the rest stays
    assert any(v.abs().sum() > 0 for k, v in resumed["motion"].items() if k.endswith("proj_out.weight"))

    dest = tmp_path / "models" / "toy-scenes-motion"
    info = X.export(run, dest)
    assert info["family"] == "animatediff" and info["base"] == "toy-scenes" and info["training"]["steps"] == 3
    assert sorted(p.name for p in dest.rglob("*.safetensors")) == ["diffusion_pytorch_model.safetensors", "model.safetensors"]
    assert not list(dest.rglob("*.bin")) and not dest.with_name(dest.name + ".tmp").exists()
    (tmp_path / "plain").touch()  # the adapter's files read like any saved file, not safetensors' 0600
    plain = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert {stat.S_IMODE(p.stat().st_mode) for p in dest.rglob("*") if p.is_file()} == {plain}

    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry

    spec = ModelRegistry().resolve(str(dest))
    assert (spec.family, spec.base, spec.available) == ("animatediff", "toy-scenes", True)
    models = ModelCache(ModelRegistry())
    frames, _ = E.make_clip(models, str(dest), M.EXAMPLE_CAPTION, 3, tmp_path / "a", frames=4, steps=2)
    again, _ = E.make_clip(models, str(dest), M.EXAMPLE_CAPTION, 3, tmp_path / "b", frames=4, steps=2)
    assert frames.shape == (4, 64, 64, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, again)  # deterministic for a seed
    pipe = models.clip_pipeline(spec, ModelRegistry().resolve("toy-scenes"))
    assert pipe.tokenizer.model_max_length == TM.MAX_TOKENS  # the adapter's own text side, with motion words
    assert len(pipe.tokenizer) > len(models.pipeline(ModelRegistry().resolve("toy-scenes")).tokenizer)


def test_a_still_word_stage_grows_a_run_without_it_and_the_clip_task_writes_the_word(tmp_path):
    import torch

    from engine.api import ClipRequest, ContinueRequest
    from engine.clips.files import read_frames
    from engine.jobs import JobContext
    from engine.models.cache import ModelCache
    from engine.models.registry import ModelRegistry
    from engine.tasks import run_task
    from engine.toy.training import export_motion as X
    from engine.toy.training import train_motion as TM

    plain = TM.train(tmp_path / "plain", 600, 0, 600, max_steps=1, threads=1, batch=1, gap_every=0, gap_clips=2)
    marked = TM.train(tmp_path / "marked", 600, 1, 600, max_steps=2, threads=1, batch=2, gap_every=0, gap_clips=2,
                      init_from=tmp_path / "plain" / "motion" / "ckpt.pt", still_share=1.0, still_word="still")
    tokenizer = TM.motion_tokenizer(TM.base_folder(), tmp_path / "marked" / "tokenizer")
    still_id = tokenizer.convert_tokens_to_ids("still")
    assert tokenizer.tokenize("on the left still on") == ["on</w>", "the</w>", "left</w>", "still", "on</w>"]
    assert marked["token_rows"].shape[0] == plain["token_rows"].shape[0] + 1 == still_id + 1
    old_vocab = plain["old_vocab"]
    assert torch.equal(marked["token_rows"][:old_vocab], plain["token_rows"][:old_vocab])  # the scorer's words
    fresh = plain["token_rows"][:old_vocab - 2].mean(0)  # where a new word starts
    assert not torch.allclose(marked["token_rows"][still_id], fresh)  # every object was still: the word trained

    dest = tmp_path / "models" / "marked"
    assert X.export(tmp_path / "marked", dest)["still_word"] == "still"
    assert ModelRegistry().resolve(str(dest)).still_word == "still"
    unmarked = tmp_path / "models" / "unmarked"  # the same weights, a manifest without the word
    shutil.copytree(dest, unmarked)
    manifest = json.loads((unmarked / "latent-studio.json").read_text())
    del manifest["still_word"]
    (unmarked / "latent-studio.json").write_text(json.dumps(manifest))

    models = ModelCache(ModelRegistry())
    context = JobContext(0, model_cache=models)
    still = "a red circle on the left on a black background"
    marked_still = "a red circle on the left still on a black background"

    def clip(folder, text):
        out = tmp_path / "clips" / f"{folder.name}-{len(text)}"
        return run_task(ClipRequest(prompt=text, output_dir=str(out), model=str(folder), seed=3, frames=4, steps=2),
                        context).clip

    def continued(source, text):
        out = tmp_path / "next" / f"{Path(source.path).parent.name}-{len(text)}"
        return read_frames(run_task(ContinueRequest(clip=source.sidecar, prompt=text, output_dir=str(out), seed=4,
                                                    steps=2, correction=False), context).clip.master)

    by_word, written = clip(dest, still), clip(unmarked, marked_still)
    assert np.array_equal(read_frames(by_word.master), read_frames(written.master))
    assert not np.array_equal(read_frames(by_word.master), read_frames(clip(unmarked, still).master))  # the word did it
    assert json.loads(Path(by_word.sidecar).read_text())["request"]["prompt"] == still  # the record keeps the user's
    assert np.array_equal(continued(by_word, still), continued(written, marked_still))  # continue writes it too
    assert not np.array_equal(continued(by_word, still), continued(written, still))
