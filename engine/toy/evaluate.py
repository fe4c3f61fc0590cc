"""Evaluate a toy-scenes model and its CLIP scorer against the caption grammar.

    from engine.toy.evaluate import evaluate
    report = evaluate(ModelCache(), samples=60, out_dir="runs/eval")

Four measurements, all seeded:

- prompt following: captions drawn from the grammar (a fixed share of two-object ones), one
  image each through the ordinary generate task (model default steps, no reranking), graded
  by the procedural checker (engine.toy.checker): per-attribute accuracy for one-object
  captions, "both objects right" and "everything right" for two-object ones;
- scorer top-1 retrieval: freshly rendered ground-truth scenes scored against their caption
  and 7 distractors, half of them hard negatives (the same scene with one attribute changed);
- reranking: `count` candidates per caption, ranked by the scorer; the checker's accuracy
  for the top-ranked candidate against candidate 0 (seed + 0, i.e. an unranked pick) and
  against the mean over all candidates;
- speed: seconds per generated image (denoise + decode, model loading excluded).

With `out_dir`, the generated images, a contact sheet PNG and per-image checks are kept there.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from engine.toy import scenes as S
from engine.toy.checker import CheckResult, check

TARGETS = {
    "single_colour_position": 0.85,
    "single_shape": 0.7,
    "background": 0.95,
    "two_both_colour_position": 0.6,
    "scorer_top1": 0.9,
    "rerank_at_least_random": True,  # reranked accuracy >= the unranked candidate's
}

P_TWO = 0.4  # share of two-object captions, as in training
DISTRACTORS = 7
HARD_NEGATIVES = 4  # of the distractors, when the scene allows that many
RERANK_CANDIDATES = 8

Progress = Callable[[str, int, int], None]


# --- captions --------------------------------------------------------------------------------


def _key(scene: S.Scene) -> tuple:
    """What a caption means: two-object captions in either order describe the same picture."""
    objects = frozenset((o.shape, o.colour, o.position, o.size) for o in scene.objects)
    return objects, scene.background


def _canonical(scene: S.Scene) -> S.Scene:
    """The scene without its render variations, as parse_caption would give it."""
    return S.parse_caption(S.caption(scene))


def sample_captions(rng: np.random.Generator, count: int, p_two: float = P_TWO) -> list[str]:
    """`count` captions, round(count * p_two) of them two-object ones, in a seeded order."""
    two = int(round(count * p_two))
    scenes = [S.sample_scene(rng, p_two=0.0) for _ in range(count - two)]
    scenes += [S.sample_scene(rng, p_two=1.0) for _ in range(two)]
    order = rng.permutation(len(scenes))
    return [S.caption(scenes[i]) for i in order]


def hard_negatives(scene: S.Scene) -> list[S.Scene]:
    """Every scene that differs from `scene` in exactly one attribute (or swaps two positions)."""
    scene = _canonical(scene)
    objs = list(scene.objects)
    used = {o.position for o in objs}
    out: list[S.Scene] = []

    def with_object(k: int, **changes) -> S.Scene:
        return dataclasses.replace(
            scene, objects=tuple(dataclasses.replace(o, **changes) if i == k else o for i, o in enumerate(objs)))

    for k, o in enumerate(objs):
        out += [with_object(k, colour=c) for c in S.COLOURS if c != o.colour]
        out += [with_object(k, shape=s) for s in S.SHAPES if s != o.shape]
        out += [with_object(k, position=p) for p in S.POSITIONS if p not in used]
        if len(objs) == 1:
            out += [with_object(k, size=z) for z in (None, *S.SIZES) if z != o.size]
    out += [dataclasses.replace(scene, background=b) for b in S.BACKGROUNDS if b != scene.background]
    if len(objs) == 2:
        a, b = objs
        swapped = dataclasses.replace(scene, objects=(dataclasses.replace(a, position=b.position),
                                                      dataclasses.replace(b, position=a.position)))
        if _key(swapped) != _key(scene):
            out.append(swapped)
    return out


def distractor_captions(scene: S.Scene, rng: np.random.Generator, count: int = DISTRACTORS,
                        hard: int = HARD_NEGATIVES) -> list[str]:
    """`count` captions that do not describe `scene`: up to `hard` one-attribute changes, then random ones."""
    seen = {_key(_canonical(scene))}
    out: list[str] = []
    candidates = hard_negatives(scene)
    for index in rng.permutation(len(candidates)):
        if len(out) >= min(hard, count):
            break
        key = _key(candidates[index])
        if key not in seen:
            seen.add(key)
            out.append(S.caption(candidates[index]))
    while len(out) < count:
        other = _canonical(S.sample_scene(rng))
        if _key(other) not in seen:
            seen.add(_key(other))
            out.append(S.caption(other))
    return out


# --- generation ------------------------------------------------------------------------------


def _load_image(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _generate(models, model_id: str, scorer_id: str, prompt: str, seed: int, count: int, rerank: bool,
              output_dir: Path):
    from engine.api import GenerateRequest
    from engine.jobs import JobContext
    from engine.tasks import generate

    request = GenerateRequest(prompt=prompt, output_dir=str(output_dir), model=model_id, seed=seed, count=count,
                              rerank=rerank, scorer=scorer_id if rerank else None)
    return generate.run(request, JobContext(0, model_cache=models))


def _mean(values) -> float | None:
    values = [float(v) for v in values]
    return float(np.mean(values)) if values else None


def _meets(value, target) -> bool | None:
    return None if value is None else bool(value >= target)


# --- the evaluation --------------------------------------------------------------------------


def evaluate(models, model_id: str = "toy-scenes", scorer_id: str = "toy-scenes-clip", samples: int = 60,
             seed: int = 0, out_dir: str | Path | None = None, scorer_samples: int | None = None,
             rerank_samples: int | None = None, rerank_candidates: int = RERANK_CANDIDATES,
             progress: Progress | None = None) -> dict:
    """Grade `model_id` (and `scorer_id`) on grammar captions; a JSON-ready report.

    `samples` captions get one image each; `scorer_samples` (default: `samples`) rendered
    scenes test the scorer; `rerank_samples` captions (default: samples // 6, at least 1)
    get `rerank_candidates` candidates each. Raises ModelNotFound (a StudioError) when the
    model or the scorer is missing.
    """
    from engine.errors import BadInput

    if samples < 1:
        raise BadInput(f"Samples must be at least 1, got {samples}.")
    registry = models.registry
    model_spec = registry.resolve(model_id)
    scorer_spec = registry.resolve(scorer_id)
    if not model_spec.is_image_model:
        raise BadInput(f"{model_spec.id} is a {model_spec.family} model and cannot make images; pick an image model.")
    if scorer_spec.family != "clip":
        raise BadInput(f"{scorer_spec.id} is a {scorer_spec.family} model, not a CLIP scorer.")
    scorer_samples = samples if scorer_samples is None else scorer_samples
    rerank_samples = max(1, samples // 6) if rerank_samples is None else rerank_samples
    report_progress = progress or (lambda stage, done, total: None)

    started = time.perf_counter()
    temp = None
    if out_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="toy-eval-")
        root = Path(temp.name)
    else:
        root = Path(out_dir)
        root.mkdir(parents=True, exist_ok=True)
    try:
        prompt_part = _prompt_following(models, model_id, scorer_id, samples, seed, root / "images", report_progress)
        top1 = scorer_top1(models.scorer(scorer_spec), scorer_samples, seed, report_progress)
        rerank = _rerank(models, model_id, scorer_id, rerank_samples, rerank_candidates, seed,
                         root / "rerank", report_progress)
        sheet = None
        if out_dir is not None:
            sheet = str(root / "contact_sheet.png")
            write_contact_sheet(prompt_part["rows"], sheet)
            with open(root / "checks.json", "w", encoding="utf-8") as handle:
                json.dump({"images": prompt_part["rows"], "rerank": rerank["rows"]}, handle, indent=1)
    finally:
        if temp is not None:
            temp.cleanup()

    single, two = prompt_part["single"], prompt_part["two"]
    accuracy = {
        "single": single,
        "two": two,
        "background": prompt_part["background"],
        "all_correct": prompt_part["all_correct"],
    }
    rerank_summary = {k: v for k, v in rerank.items() if k != "rows"}
    meets = {
        "single_colour_position": _meets(single["colour_position"], TARGETS["single_colour_position"]),
        "single_shape": _meets(single["shape"], TARGETS["single_shape"]),
        "background": _meets(prompt_part["background"], TARGETS["background"]),
        "two_both_colour_position": _meets(two["both_colour_position"], TARGETS["two_both_colour_position"]),
        "scorer_top1": _meets(top1, TARGETS["scorer_top1"]),
        "rerank_at_least_random": (None if rerank["reranked"] is None
                                   else bool(rerank["reranked"] >= rerank["random"])),
    }
    return {
        "model": model_spec.id,
        "scorer": scorer_spec.id,
        "seed": seed,
        "samples": {
            "single": single["count"], "two": two["count"], "scorer": scorer_samples,
            "rerank": rerank_samples, "rerank_candidates": rerank_candidates,
        },
        "accuracy": accuracy,
        "scorer_top1": top1,
        "rerank": rerank_summary,
        "seconds_per_image": prompt_part["seconds_per_image"],
        "seconds": time.perf_counter() - started,
        "targets": dict(TARGETS),
        "meets_targets": meets,
        "out_dir": None if out_dir is None else str(root),
        "contact_sheet": sheet,
    }


def _prompt_following(models, model_id, scorer_id, samples, seed, folder: Path, progress: Progress) -> dict:
    rng = np.random.default_rng([seed, 1])
    captions = sample_captions(rng, samples)
    rows = []
    generation_seconds = 0.0
    for index, text in enumerate(captions):
        progress("generate", index, len(captions))
        result = _generate(models, model_id, scorer_id, text, seed * 100_000 + index, 1, False, folder)
        generation_seconds += result.seconds
        image = result.images[0]
        verdict = check(_load_image(image.path), text)
        rows.append({"caption": text, "path": image.path, "seed": image.seed, "objects": len(verdict.shape),
                     **verdict.to_json()})
    progress("generate", len(captions), len(captions))
    singles = [r for r in rows if r["objects"] == 1]
    twos = [r for r in rows if r["objects"] == 2]
    sized = [r for r in singles if r["size"] is not None]
    return {
        "rows": rows,
        "single": {
            "count": len(singles),
            "colour_position": _mean(r["colour_position"][0] for r in singles),
            "shape": _mean(r["shape"][0] for r in singles),
            "background": _mean(r["background"] for r in singles),
            "size": _mean(r["size"] for r in sized),
            "size_count": len(sized),
            "all_correct": _mean(r["all_correct"] for r in singles),
        },
        "two": {
            "count": len(twos),
            "both_colour_position": _mean(all(r["colour_position"]) for r in twos),
            "both_shape": _mean(all(r["shape"]) for r in twos),
            "background": _mean(r["background"] for r in twos),
            "all_correct": _mean(r["all_correct"] for r in twos),
        },
        "background": _mean(r["background"] for r in rows),
        "all_correct": _mean(r["all_correct"] for r in rows),
        "seconds_per_image": generation_seconds / len(rows) if rows else None,
    }


def scorer_top1(scorer, count: int, seed: int = 0, progress: Progress | None = None) -> float | None:
    """Share of `count` rendered scenes whose caption `scorer` ranks first among 1 + 7 captions.

    `scorer` is anything with `score(images, prompt) -> list[float]` (a ClipScorer).
    """
    if count < 1:
        return None
    from PIL import Image

    progress = progress or (lambda stage, done, total: None)
    rng = np.random.default_rng([seed, 2])
    hits = 0
    for index in range(count):
        progress("scorer", index, count)
        scene = S.sample_scene(rng)
        image = Image.fromarray(S.render(scene))
        texts = [S.caption(scene)] + distractor_captions(scene, rng)
        scores = [scorer.score([image], text)[0] for text in texts]
        hits += int(np.argmax(scores) == 0 and scores.count(scores[0]) == 1)
    progress("scorer", count, count)
    return hits / count


def _rerank(models, model_id, scorer_id, count: int, candidates: int, seed: int, folder: Path,
            progress: Progress) -> dict:
    rng = np.random.default_rng([seed, 3])
    captions = sample_captions(rng, count)
    rows = []
    for index, text in enumerate(captions):
        progress("rerank", index, len(captions))
        base = seed * 100_000 + 50_000 + index * candidates
        result = _generate(models, model_id, scorer_id, text, base, candidates, True, folder)
        verdicts: dict[int, CheckResult] = {
            image.seed: check(_load_image(image.path), text) for image in result.images
        }
        top = result.images[0]
        rows.append({
            "caption": text,
            "top_seed": top.seed,
            "top_score": top.score,
            "top_correct": verdicts[top.seed].all_correct,
            "random_correct": verdicts[base].all_correct,
            "candidates_correct": _mean(v.all_correct for v in verdicts.values()),
        })
    progress("rerank", len(captions), len(captions))
    return {
        "reranked": _mean(r["top_correct"] for r in rows),
        "random": _mean(r["random_correct"] for r in rows),
        "candidates_mean": _mean(r["candidates_correct"] for r in rows),
        "captions": len(rows),
        "rows": rows,
    }


# --- contact sheet ---------------------------------------------------------------------------


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def write_contact_sheet(rows: list[dict], path: str | Path, columns: int = 8, limit: int = 64,
                        tile: int = 128) -> Path:
    """A grid of generated images, each with its caption and the checker's verdict under it."""
    import cv2

    rows = rows[:limit]
    font, scale, line_h, chars = cv2.FONT_HERSHEY_SIMPLEX, 0.33, 11, 26
    caption_lines, verdict_lines = 4, 2
    cell_w, cell_h = tile + 8, tile + 8 + (caption_lines + verdict_lines) * line_h
    n_rows = max(1, -(-len(rows) // columns))
    sheet = np.full((n_rows * cell_h, min(columns, max(1, len(rows))) * cell_w, 3), 255, dtype=np.uint8)
    for index, row in enumerate(rows):
        y0, x0 = (index // columns) * cell_h, (index % columns) * cell_w
        image = _load_image(row["path"])
        image = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_NEAREST)
        sheet[y0 + 4:y0 + 4 + tile, x0 + 4:x0 + 4 + tile] = image
        lines = _wrap(row["caption"], chars)[:caption_lines]
        wrong = [] if row["background"] else ["bg"]
        for k, (cp, sh) in enumerate(zip(row["colour_position"], row["shape"])):
            tag = "" if len(row["shape"]) == 1 else str(k + 1)
            wrong += ([] if cp else [f"col/pos{tag}"]) + ([] if sh else [f"shape{tag}"])
        if row["size"] is False:
            wrong.append("size")
        verdict = _wrap("all correct" if not wrong else "wrong: " + " ".join(wrong), chars)[:verdict_lines]
        colour = (0, 140, 0) if row["all_correct"] else (200, 0, 0)  # RGB
        for k, line in enumerate(lines):
            cv2.putText(sheet, line, (x0 + 4, y0 + tile + 14 + k * line_h), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
        for k, line in enumerate(verdict):
            cv2.putText(sheet, line, (x0 + 4, y0 + tile + 14 + (caption_lines + k) * line_h), font, scale,
                        colour, 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path
