"""A hand list of mutations of the edit algorithms, the grid noise and the measures.

Each is a plausible bug (a line someone could get wrong) and names the tests that must catch it.
`run_mutations.py` applies them one at a time to a copy of the tree and runs those tests;
tests/engine/test_mutation_list.py checks on every run that each still applies to the source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str  # must occur exactly once in `path`
    new: str
    tests: tuple[str, ...]  # pytest arguments: files and -k selections


EDITS = ("tests/engine/test_edits.py",)
MUTATIONS: tuple[Mutation, ...] = (
    Mutation("resample without the per-step hold", "engine/tasks/resample.py",
             "on_step=on_step, hook=hold)", "on_step=on_step, hook=None)", EDITS + ("-k", "resample")),
    Mutation("hold frees the whole fall-off ring from the first step", "engine/edits.py",
             "free = free_map > 1.0 - (index + 1) / total", "free = free_map > 0", EDITS + ("-k", "resample")),
    Mutation("hold frees the ring first and the block last", "engine/edits.py",
             "free = free_map > 1.0 - (index + 1) / total", "free = 1.0 - free_map > 1.0 - (index + 1) / total",
             EDITS + ("-k", "resample")),
    Mutation("held latents not noised to the step", "engine/edits.py",
             "held = scheduler.add_noise(original, noise, timesteps[index + 1:index + 2])", "held = original",
             EDITS + ("-k", "resample")),
    Mutation("change map without the radial fall-off", "engine/edits.py",
             "return np.clip(1.0 - distance_to_box(height, width, box) / radius, 0.0, 1.0).astype(np.float32)",
             "return (distance_to_box(height, width, box) == 0).astype(np.float32)", EDITS + ("-k", "resample")),
    Mutation("inpainting latent mask inverted", "engine/tasks/inpaint.py",
             "free_map = torch.from_numpy(latent_mask.astype(np.float32)).to(device)",
             "free_map = torch.from_numpy((~latent_mask).astype(np.float32)).to(device)",
             EDITS + ("-k", "inpaint or compare")),
    Mutation("inpainting never holds the outside", "engine/tasks/inpaint.py",
             "        hook = edits.threshold_hold(scheduler, original, noise, free_map, timesteps)\n",
             "        hook = None\n", EDITS + ("-k", "inpaint or compare")),
    Mutation("composite pastes the window without its alpha", "engine/edits.py",
             "result[top:bottom, left:right] = a * decoded.astype(np.float32) + (1.0 - a) * region",
             "result[top:bottom, left:right] = decoded.astype(np.float32)", EDITS + ("-k", "inpaint or resample")),
    Mutation("compare's mask with row and column swapped", "engine/tasks/compare.py",
             "mask[top:bottom, left:right] = True", "mask[left:right, top:bottom] = True",
             EDITS + ("-k", "compare_measures")),
    Mutation("block located with row and column swapped", "engine/edits.py",
             "top, bottom = cell_bounds(latent_h, rows)[row]\n    left, right = cell_bounds(latent_w, cols)[col]",
             "top, bottom = cell_bounds(latent_h, rows)[col]\n    left, right = cell_bounds(latent_w, cols)[row]",
             EDITS + ("-k", "compare_measures or denoise")),
    Mutation("grid noise seeds cells transposed", "engine/grid.py",
             "manual_seed(grid.seed_at(r, c))", "manual_seed(grid.seed_at(c, r))",
             ("tests/engine/test_grid.py",)),
    Mutation("grid noise from one generator for all cells", "engine/grid.py",
             "            generator = torch.Generator(device=\"cpu\").manual_seed(grid.seed_at(r, c))\n",
             "            generator = torch.Generator(device=\"cpu\").manual_seed(grid.seeds[0] + r)\n",
             ("tests/engine/test_grid.py",)),
    Mutation("cell bounds off by one", "engine/grid.py",
             "edges = [round(i * length / parts) for i in range(parts + 1)]",
             "edges = [round(i * length / parts) for i in range(parts)] + [length - 1]",
             ("tests/engine/test_grid.py",)),
    Mutation("distortion weights ignore distance", "engine/metrics.py",
             "weights = np.minimum(1.0, distance_to_mask(m)[outside] / r)", "weights = np.ones(int(outside.sum()))",
             ("tests/engine/test_metrics.py",)),
    Mutation("seam ring of 3 px", "engine/metrics.py", "SEAM_RING = 4.0", "SEAM_RING = 3.0",
             ("tests/engine/test_metrics.py",)),
    Mutation("seam_step band of 4 px", "engine/metrics.py", "SEAM_STEP_BAND = 2.0", "SEAM_STEP_BAND = 4.0",
             ("tests/engine/test_metrics.py",)),
    Mutation("seam_step of the result's gradient, not the change's", "engine/metrics.py",
             "return _mean_or_nan(_gradient_magnitude(b - a)[seam_ring(m, width)])",
             "return _mean_or_nan(np.abs(_gradient_magnitude(b) - _gradient_magnitude(a))[seam_ring(m, width)])",
             ("tests/engine/test_metrics.py",)),
    Mutation("change measured as the max over channels", "engine/metrics.py",
             "return np.abs(b - a).mean(axis=2)", "return np.abs(b - a).max(axis=2)",
             ("tests/engine/test_metrics.py",)),
    Mutation("SSIM with sample covariance", "engine/metrics.py",
             "cov = _gaussian_filter(x * z, kernel) - mu_x * mu_z",
             "cov = 1.01 * (_gaussian_filter(x * z, kernel) - mu_x * mu_z)", ("tests/engine/test_metrics.py",)),
    # continue a clip (issue 16)
    Mutation("continued clip not held to the tail during denoising", "engine/clips/continuation.py",
             "latents.copy_(self.hook(step, timestep, latents))", "pass",
             ("tests/engine/test_continue.py", "-k", "stored_tail")),
    Mutation("stored tail latents ignored (master re-encoded)", "engine/clips/continuation.py",
             "    if use_latents and chosen == last and stored.is_file():", "    if False:",
             ("tests/engine/test_continue.py", "-k", "stored_tail")),
    Mutation("from_frame ignored", "engine/clips/continuation.py",
             "chosen = last if from_frame is None else from_frame", "chosen = last",
             ("tests/engine/test_continue.py", "-k", "from_frame")),
    Mutation("colour correction never applied", "engine/tasks/continue_clip.py",
             "    if request.correction:", "    if False:",
             ("tests/engine/test_drift.py", "tests/engine/test_continue.py", "-k", "correction_reduces or references")),
    Mutation("LTX and Wan VACE continued without their tail condition", "engine/tasks/continue_clip.py",
             'if family.name in ("ltx", "wan") else None),', "if False else None),",
             ("tests/engine/test_continue.py", "tests/engine/test_continue_wan.py", "-k", "ltx or tail_and_nothing")),
    Mutation("redo remakes the shots before K", "engine/clips/chain.py",
             "kept=clips[: shot_number - 1])", "kept=None)", ("tests/engine/test_chain.py", "-k", "redo")),
    Mutation("a model's preview fit read as linear whatever its degree", "engine/preview.py",
             'degree=data.get("degree", 1))', "degree=1)",
             ("tests/engine/test_preview.py", "-k", "bundled")),
)
