"""A generated clip added to a project travels with its companions: the copy in media/ keeps its
master, tail latents and sidecar under the preview's (possibly renumbered) stem, its recorded input
files still resolve from media/, and a reopened project continues it with the results folder gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.api import ClipRequest, ContinueRequest
from engine.clips.continuation import recorded_request
from engine.clips.files import read_clip_request, read_frames, read_latents, sidecar_of, write_clip
from engine.errors import BadInput
from engine.project import MEDIA_DIR, Project
from engine.tasks import run_task
from engine.timeline.commands import AddMedia, Append, Batch
from engine.timeline.model import Clip, Rate
from engine.timeline.testing import write_numbered_video, write_still


def _place(project: Project, source) -> str:
    """`source` added to the project and appended to V1; its media id."""
    ref = project.add_media(source)
    project.history.apply(Batch((AddMedia(ref), Append(0, Clip(ref.id, 0, ref.length_at(project.settings.rate))))))
    return ref.id


def test_a_reopened_project_continues_its_copy_with_the_results_folder_gone(video_cache, make_direct_context,
                                                                             tmp_path):
    context = make_direct_context(video_cache)
    (tmp_path / "inputs").mkdir()
    still = write_still(tmp_path / "inputs" / "still.png", (200, 40, 40), 32, 32)
    face = write_still(tmp_path / "inputs" / "face.png", (40, 200, 40), 16, 16)
    results = tmp_path / "results"
    made = run_task(ClipRequest(prompt="a red cat", output_dir=str(results), model="tiny-animatediff", frames=4, steps=2,
                                seed=3, init_image=str(still), identity_references=(str(face),)), context).clip
    project = Project.create(tmp_path / "film", Rate(8), 32, 32)
    media_id = _place(project, made.path)
    project.save()
    original_master = read_frames(made.master)
    continuing = lambda clip, out: run_task(ContinueRequest(  # noqa: E731
        clip=str(clip), prompt="a red cat walking", output_dir=str(tmp_path / out), frames=2, seed=5), context).clip
    from_original = read_frames(continuing(made.path, "from-original").master)
    shutil.rmtree(results)  # nothing of the original is left to fall back on

    reopened = Project.open(tmp_path / "film")
    copy = Path(reopened.timeline.media_by_id()[media_id].path)
    assert copy.parent == (tmp_path / "film" / MEDIA_DIR).resolve()
    stem = copy.name[: -len(".mp4")]
    assert sorted(p.name for p in copy.parent.iterdir()) == sorted(
        f"{stem}{suffix}" for suffix in (".mp4", ".master.mkv", ".latents.safetensors", ".clip.json"))
    recorded = json.loads(sidecar_of(copy).read_text())["result"]
    assert (recorded["path"], recorded["master"], recorded["latents"]) == (
        copy.name, f"{stem}.master.mkv", f"{stem}.latents.safetensors")
    request = read_clip_request(copy)  # the inputs, recorded relative to results/, resolve from media/
    assert request.init_image == str(still.resolve()) and request.identity_references == (str(face.resolve()),)
    assert np.array_equal(read_frames(copy.parent / recorded["master"]), original_master)

    following = continuing(copy, "next")  # from the copy's own master and tail latents: the same frames
    assert np.array_equal(read_frames(following.master), from_original)

    # the continuation, copied too, still names the project's copy as what it continued
    next_id = _place(reopened, following.path)
    next_copy = Path(reopened.timeline.media_by_id()[next_id].path)
    assert recorded_request(sidecar_of(next_copy)).clip == str(copy)


def _frames(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)


def _written_clip(folder: Path, seed: int):
    import torch

    request = ClipRequest(prompt="a shot", output_dir=str(folder), model="tiny-animatediff", frames=3, fps=8, seed=seed)
    latents = torch.full((1, 3, 4, 2, 2), float(seed))
    return write_clip(_frames(seed), latents, request, folder, "shot", {"family": "animatediff"})


def test_two_clips_of_one_stem_each_keep_their_own_companions(tmp_path):
    first, second = _written_clip(tmp_path / "a", 1), _written_clip(tmp_path / "b", 2)
    project = Project.create(tmp_path / "film", Rate(8), 16, 16)
    media = tmp_path / "film" / MEDIA_DIR
    (media / "shot-1.master.mkv").write_bytes(b"an orphan of an earlier copy")  # takes shot-1 for the whole clip
    ids = [_place(project, clip.path) for clip in (first, second)]
    copies = [Path(project.timeline.media_by_id()[media_id].path) for media_id in ids]
    assert [c.name for c in copies] == ["shot.mp4", "shot-2.mp4"]
    for seed, copy in zip((1, 2), copies):
        result = json.loads(sidecar_of(copy).read_text())["result"]
        stem = copy.name[: -len(".mp4")]  # the companions follow the preview's new name
        assert (result["path"], result["master"], result["latents"]) == (
            copy.name, f"{stem}.master.mkv", f"{stem}.latents.safetensors")
        assert np.array_equal(read_frames(media / result["master"]), _frames(seed))
        assert float(read_latents(media / result["latents"]).flatten()[0]) == seed
    assert (media / "shot-1.master.mkv").read_bytes() == b"an orphan of an earlier copy"


def test_a_plain_video_is_copied_alone(tmp_path):
    video = write_numbered_video(tmp_path / "shot.mp4", 6)
    (tmp_path / "shot.master.mkv").write_bytes(b"not a companion: no sidecar says so")
    project = Project.create(tmp_path / "film", Rate(8), 64, 48)
    _place(project, video)
    assert [p.name for p in (tmp_path / "film" / MEDIA_DIR).iterdir()] == ["shot.mp4"]


def test_a_sidecar_that_fails_part_way_leaves_no_partial_copy(tmp_path):
    clip = _written_clip(tmp_path / "a", 1)
    sidecar = Path(clip.sidecar)
    data = json.loads(sidecar.read_text())
    data["result"]["continues"] = {"request": {"task": "no such task"}}  # read only after the files are copied
    sidecar.write_text(json.dumps(data))
    project = Project.create(tmp_path / "film", Rate(8), 16, 16)
    with pytest.raises(BadInput, match="shot.clip.json"):
        project.add_media(clip.path)
    assert list((tmp_path / "film" / MEDIA_DIR).iterdir()) == []
