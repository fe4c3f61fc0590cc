"""Export the trained toy-scenes models from training checkpoints into resources/models.

    python -m engine.toy.training.export --run runs/toy [--dest resources/models] [--grid docs/toy-scenes-grid.png] [--check]
    python -m engine.toy.training.export --refit-preview resources/models/toy-scenes

(--refit-preview rewrites a shipped model's latent_rgb.json from its own VAE, no run needed.)

Works from whatever checkpoints exist (a finished run or one still in progress): the UNet and
text encoder come from their EMA weights. Folders are written beside the destination and then
swapped in, so a failed export never leaves half a model in resources/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from engine.threads import apply_thread_policy

apply_thread_policy()  # before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.atomic import plain_file_mode, write_text_atomic
from engine.preview import latent_features
from engine.toy import scenes as S
from engine.toy.training import train as T

DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 4.0
DEFAULT_SCHEDULER = "dpm++_2m"
# On the toy VAE (150 held-out scenes) a linear preview fit leaves rmse 0.20 and names 41% of single
# objects' colours right from their mean; degree 2: 0.13 and 61%; degree 3: 0.12 and 77%.
PREVIEW_DEGREE = 3


def _swap_in(tmp: Path, dest: Path):
    # save_pretrained writes through safetensors' save_file, which leaves its files 0600: a model
    # shipped in resources/ (and the wheel) must be readable by every account, like any saved file
    mode = plain_file_mode(tmp)
    for path in tmp.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(mode)
    old = dest.with_name(dest.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    if old.exists():
        shutil.rmtree(old)


@torch.no_grad()
def fit_latent_rgb(vae, count: int = 400, seed: int = 123, degree: int = PREVIEW_DEGREE) -> dict:
    """Least-squares map from a polynomial of a (scaled) latent vector (engine.preview.latent_features)
    to the RGB in [0, 1] of its 4x4 pixel patch."""
    import cv2

    rng = np.random.default_rng(seed)
    images, _, _ = S.render_batch(rng, count, T.SIZE)
    latents = vae.encode(T.to_tensor(images)).latent_dist.mean * vae.config.scaling_factor
    h = latents.shape[-1]
    small = np.stack([cv2.resize(im, (h, h), interpolation=cv2.INTER_AREA) for im in images]).astype(np.float32) / 255
    x = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1]).numpy()
    y = small.reshape(-1, 3)
    design = np.concatenate([latent_features(x, degree), np.ones((len(x), 1), np.float32)], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = float(np.sqrt(np.mean((design @ coef - y) ** 2)))
    return {"degree": degree, "factors": coef[:-1].round(5).tolist(), "bias": coef[-1].round(5).tolist(),
            "rmse": round(residual, 4)}


def refit_preview(model_folder: Path) -> dict:
    from diffusers import AutoencoderKL

    fit = fit_latent_rgb(AutoencoderKL.from_pretrained(model_folder / "vae").eval())
    write_text_atomic(model_folder / "latent_rgb.json", json.dumps(fit))
    return fit


def build_pipeline(run: Path, use_ema: bool = True):
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    vae = T.load_vae(run)
    if "scaling_factor" not in torch.load(run / "vae" / "ckpt.pt", weights_only=True):
        with torch.no_grad():  # the latent cache was not built yet: estimate the scale here
            images, _, _ = S.render_batch(np.random.default_rng(7), 256, T.SIZE)
            dist = vae.encode(T.to_tensor(images)).latent_dist
            vae.register_to_config(scaling_factor=float(1 / torch.sqrt(dist.mean.var() + dist.std.pow(2).mean())))
    tokenizer = T.tokenizer_for(run / "tokenizer")
    unet, text = T.make_unet_and_text(len(tokenizer))
    state = torch.load(run / "unet" / "ckpt.pt", weights_only=True)
    unet.load_state_dict(state["ema_unet"] if use_ema else state["unet"])
    text.load_state_dict(state["ema_text"] if use_ema else state["text"])
    unet.eval()
    text.eval()
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(**T.scheduler_config()),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe, state


def export_image_model(run: Path, dest: Path, use_ema: bool = True) -> dict:
    pipe, state = build_pipeline(run, use_ema)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    pipe.save_pretrained(tmp, safe_serialization=True)
    info = {
        "id": "toy-scenes", "family": "sd1", "native_size": [T.SIZE, T.SIZE],
        "default_steps": DEFAULT_STEPS, "default_guidance": DEFAULT_GUIDANCE,
        "default_scheduler": DEFAULT_SCHEDULER,
        "description": "Bundled offline toy model trained by Latent Studio on procedural scenes: one or two "
                       "coloured circles/squares/triangles placed left/right/top/bottom/center on a "
                       "white, black or gray background. 64x64. Prompt like 'a large red circle on the "
                       "left on a black background'.",
        "draws": S.what_it_draws(), "example_prompt": S.EXAMPLE_CAPTION,
        "training": {"unet_steps": int(state["step"]), "unet_mse": state.get("loss"),
                     "finished": bool(state.get("done"))},
    }
    (tmp / "latent-studio.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    (tmp / "latent_rgb.json").write_text(json.dumps(fit_latent_rgb(pipe.vae)), encoding="utf-8")
    _swap_in(tmp, dest)
    return info


def load_clip(run: Path):
    tokenizer = T.tokenizer_for(run / "tokenizer")
    model = T.make_clip(len(tokenizer))
    state = torch.load(run / "clip" / "ckpt.pt", weights_only=True)
    model.load_state_dict(state["model"])
    return model.eval(), tokenizer, state


def export_clip(run: Path, dest: Path) -> dict:
    from transformers import CLIPImageProcessor

    model, tokenizer, state = load_clip(run)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    CLIPImageProcessor(
        size={"shortest_edge": T.SIZE}, crop_size={"height": T.SIZE, "width": T.SIZE},
        image_mean=T.CLIP_MEAN, image_std=T.CLIP_STD, do_convert_rgb=True,
    ).save_pretrained(tmp)
    info = {"id": "toy-scenes-clip", "family": "clip",
            "description": "Bundled CLIP scorer for toy-scenes captions (64x64, trained contrastively).",
            "training": {"steps": int(state["step"]), "loss_acc": state.get("loss"), "finished": bool(state.get("done"))}}
    (tmp / "latent-studio.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    _swap_in(tmp, dest)
    return info


# ----------------------------------------------------------------------------- checks

def single_captions(rng: np.random.Generator, count: int) -> list[str]:
    return [S.caption(S.sample_scene(rng, p_two=0.0)) for _ in range(count)]


def generate(pipe, captions, steps=DEFAULT_STEPS, guidance=DEFAULT_GUIDANCE, scheduler=DEFAULT_SCHEDULER, seed=0):
    from engine.schedulers import make_scheduler

    pipe.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    images = []
    for i, text in enumerate(captions):
        g = torch.Generator().manual_seed(seed + i)
        out = pipe(text, height=T.SIZE, width=T.SIZE, num_inference_steps=steps, guidance_scale=guidance,
                   generator=g, output_type="np")
        images.append((out.images[0] * 255).round().astype(np.uint8))
    return images


def check_generation(pipe, count=50, two=30, **kwargs) -> dict:
    captions = single_captions(np.random.default_rng(2024), count)
    t0 = time.time()
    images = generate(pipe, captions, **kwargs)
    seconds = (time.time() - t0) / count
    colour = position = both = 0
    for text, image in zip(captions, images):
        scene = S.parse_caption(text)
        want = scene.objects[0]
        got_colour, got_pos = S.dominant_object(image, scene.background)
        colour += got_colour == want.colour
        position += got_pos == want.position
        both += got_colour == want.colour and got_pos == want.position
    result = {"count": count, "colour": colour / count, "position": position / count,
              "colour_and_position": both / count, "seconds_per_image": round(seconds, 3)}
    if two:
        captions = [S.caption(S.sample_scene(np.random.default_rng(4048 + i), p_two=1.0)) for i in range(two)]
        images = generate(pipe, captions, **kwargs)
        ok = 0
        for text, image in zip(captions, images):
            scene = S.parse_caption(text)
            ok += all(region_colour(image, o.position, scene.background) == o.colour for o in scene.objects)
        result["two_objects_both_colours_in_place"] = ok / two
    return result


def region_colour(image: np.ndarray, position: str, background: str) -> str | None:
    """Colour of the saturated pixels in a position's region (a 32x32 box), if any."""
    x0, y0, x1, y1 = S.region_box(position, image.shape[0])
    crop = image[max(0, y0):y1, max(0, x0):x1]
    return S.dominant_object(crop, background)[0]


@torch.no_grad()
def check_clip(model, tokenizer, count=100, choices=8, seed=99) -> dict:
    rng = np.random.default_rng(seed)
    images, captions, scenes = S.render_batch(rng, count, T.SIZE)
    mean = torch.tensor(T.CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(T.CLIP_STD).view(1, 3, 1, 1)
    pixels = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - mean) / std
    img = torch.nn.functional.normalize(T._features(model.get_image_features(pixel_values=pixels)), dim=-1)
    hits = hits_hard = 0
    for i in range(count):
        others = set()
        while len(others) < choices - 1:
            c = S.caption(S.sample_scene(rng))
            if c != captions[i]:
                others.add(c)
        hard = set()
        while len(hard) < choices - 1:
            c = T.perturb_caption(rng, scenes[i])
            if c != captions[i]:
                hard.add(c)
        for bank, name in ((others, "random"), (hard, "hard")):
            texts = [captions[i]] + sorted(bank)
            ids = T.tokenize(tokenizer, texts)
            txt = torch.nn.functional.normalize(T._features(model.get_text_features(input_ids=ids)), dim=-1)
            top = int((txt @ img[i]).argmax())
            if name == "random":
                hits += top == 0
            else:
                hits_hard += top == 0
    return {"count": count, "top1_random_8": hits / count, "top1_one_word_changed_8": hits_hard / count}


def write_grid(pipe, path: Path, **kwargs):
    import cv2

    rng = np.random.default_rng(7)
    captions = single_captions(rng, 24) + [S.caption(S.sample_scene(rng, p_two=1.0)) for _ in range(8)]
    images = generate(pipe, captions, **kwargs)
    rows = [np.concatenate(images[r * 8:(r + 1) * 8], axis=1) for r in range(4)]
    grid = np.concatenate(rows, axis=0)
    grid = cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid[:, :, ::-1])
    return captions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/toy")
    parser.add_argument("--dest", default="resources/models")
    parser.add_argument("--no-ema", action="store_true")
    parser.add_argument("--skip-export", action="store_true", help="only run checks on the checkpoints")
    parser.add_argument("--grid", default=None, help="write a sample grid PNG here")
    parser.add_argument("--check", action="store_true", help="quick accuracy self-check")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--refit-preview", default=None, metavar="MODEL_FOLDER",
                        help="only rewrite this model folder's latent_rgb.json from its VAE")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.refit_preview:
        fit = refit_preview(Path(args.refit_preview))
        print(f"latent_rgb.json: degree {fit['degree']} fit, rmse {fit['rmse']}")
        return
    run, dest = Path(args.run), Path(args.dest)
    if not args.skip_export:
        dest.mkdir(parents=True, exist_ok=True)
        print("toy-scenes:", json.dumps(export_image_model(run, dest / "toy-scenes", not args.no_ema)))
        print("toy-scenes-clip:", json.dumps(export_clip(run, dest / "toy-scenes-clip")))
        total = sum(f.stat().st_size for d in ("toy-scenes", "toy-scenes-clip") for f in (dest / d).rglob("*") if f.is_file())
        print(f"total size {total / 1e6:.1f} MB")
    if args.grid or args.check:
        pipe, _ = build_pipeline(run, not args.no_ema)
        if args.grid:
            captions = write_grid(pipe, Path(args.grid))
            print("grid captions (rows of 8):")
            for r in range(4):
                print("  " + " | ".join(captions[r * 8:(r + 1) * 8]))
        if args.check:
            print("generation:", json.dumps(check_generation(pipe)))
            model, tokenizer, _ = load_clip(run)
            print("scorer:", json.dumps(check_clip(model, tokenizer)))


if __name__ == "__main__":
    main()
