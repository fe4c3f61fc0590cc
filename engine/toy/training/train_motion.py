"""Train the bundled motion model "toy-scenes-motion" on CPU: seeded, checkpointed, resumable.

    python -m engine.toy.training.train_motion --out runs/motion --minutes 100

A diffusers `MotionAdapter` is put on the shipped toy-scenes UNet (`UNetMotionModel.from_unet2d`)
and trained on procedural moving scenes (engine.toy.motion_scenes) at 64x64, 8 frames: the same
v-prediction loss and zero-terminal-SNR schedule as the image UNet, one timestep per clip and
fresh noise per frame, as AnimateDiff trains. The spatial UNet, the VAE and the text tower stay
frozen, so the image model is untouched and the adapter is all that ships, with a text side of
its own:

Motion words reach the model through the text. They are not in the toy tokenizer ("moving",
"to", "up", "down", "growing", "shrinking"), and a two-object caption with two motion phrases is
27 tokens where the text tower has 20 positions. So the motion model carries its own copy of the
toy text encoder and tokenizer: the five new words are added as whole-word tokens ("to" already
is one, a piece of "top"), the position table
grows to 28 (new rows start as copies of the last), and only those new rows train (textual
inversion style), the tower's weights staying the scorer's. Every caption toy-scenes knows
tokenizes and encodes exactly as before (the first 20 positions are unchanged, and CLIP's text
attention is causal), so the motion model's first frame still speaks toy-scenes.

Two more ways in, both measured in engine/toy/README.md: `--cross-lr` also tunes the spatial
cross-attention's text projections, and `--direct-lr` gives every motion module the prompt itself
(engine.models.motion_text). `--high-noise-share` trains that share of each batch at t 900-999,
the only place where the motion must come from the words; `--init-from` starts a stage from another
run's weights. `--still-share` and `--two-share` set a stage's data mix (objects without a motion
phrase, clips with two objects). `--still-word still` adds one more word to the text side and
writes it after each still object's position (engine.toy.motion_scenes.mark_still): the exported
manifest names it, and the clip task writes it into prompts the same way, so "no motion phrase"
reaches the model as a word to learn rather than as an absence. A stage with it may start from
one without it (`--init-from`): the new word's row starts at the mean word embedding.

`--device cuda` trains on a GPU where one is lent (bf16 autocast; give it a larger `--batch`): the
clips and the noise are still drawn on the CPU and the checkpoint is saved from it, so such a run
resumes or exports anywhere. Not yet run on a GPU: none was lent to the sessions that wrote it.

The checkpoint (`<out>/motion/ckpt.pt`, every few minutes and at the end) holds the motion
modules, their EMA, the new text rows and the optimiser; the same command resumes it.
`engine.toy.training.export_motion` writes the adapter folder from whatever checkpoint exists.
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import time
from pathlib import Path

from engine.threads import apply_thread_policy

apply_thread_policy()  # before torch loads: passive OpenMP waits on a shared machine

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.paths import bundled_models_dir  # noqa: E402
from engine.toy import motion_scenes as M  # noqa: E402
from engine.toy.training.train import SIZE, Stage, ThreadTuner, log, lr_at, scheduler_config, to_tensor  # noqa: E402,F401

FRAMES = M.DEFAULT_FRAMES
MAX_TOKENS = 28  # the longest two-object caption with two motion phrases is 27 with BOS/EOS
BASE_ID = "toy-scenes"


def adapter_config() -> dict:
    # motion_layers_per_block must equal the toy UNet's layers_per_block (1)
    return dict(block_out_channels=(64, 128, 128), motion_layers_per_block=1, motion_num_attention_heads=4,
                motion_norm_num_groups=32, motion_max_seq_length=32, use_motion_mid_block=True)


def base_folder() -> Path:
    return bundled_models_dir() / BASE_ID


# ----------------------------------------------------------------------------- text side

def motion_tokenizer(base: Path, folder: Path, still_word: str = ""):
    """The toy tokenizer with the motion words (and `still_word`, if given) as whole-word tokens
    and room for 28 tokens; written once into `folder`, then loaded from there (so the exported
    one is the trained one)."""
    from transformers import AddedToken, CLIPTokenizer

    folder = Path(folder)
    if (folder / "tokenizer_config.json").is_file():
        return CLIPTokenizer.from_pretrained(folder)
    tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer")
    # single_word: "to" must not match inside "bottom", nor "up" inside another word
    words = list(M.MOTION_WORDS) + ([still_word] if still_word else [])
    tokenizer.add_tokens([AddedToken(w, single_word=True, lstrip=False, rstrip=False) for w in words])
    tokenizer.model_max_length = MAX_TOKENS
    tokenizer.save_pretrained(folder)
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    for word in M.VOCABULARY + words:
        assert len(tokenizer.tokenize(word)) == 1, (word, tokenizer.tokenize(word))
    return tokenizer


def motion_text_encoder(base: Path, vocab_size: int):
    """The toy text encoder grown to `vocab_size` tokens and MAX_TOKENS positions; new token rows
    start at the mean word embedding, new position rows as copies of the last one."""
    from transformers import CLIPTextModel

    old = CLIPTextModel.from_pretrained(base / "text_encoder")
    config = old.config
    old_vocab, old_positions = config.vocab_size, config.max_position_embeddings
    config.vocab_size, config.max_position_embeddings = vocab_size, MAX_TOKENS
    text = CLIPTextModel(config)
    state = old.state_dict()
    emb = text.embeddings
    with torch.no_grad():
        tok = state.pop("embeddings.token_embedding.weight")
        pos = state.pop("embeddings.position_embedding.weight")
        emb.token_embedding.weight[:old_vocab] = tok
        emb.token_embedding.weight[old_vocab:] = tok[:old_vocab - 2].mean(0)
        emb.position_embedding.weight[:old_positions] = pos
        emb.position_embedding.weight[old_positions:] = pos[-1]
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    text.load_state_dict(state, strict=False)
    text.eval().requires_grad_(False)
    return text, old_vocab, old_positions


def new_rows(text, old_vocab: int, old_positions: int) -> dict:
    """The trainable text rows: {name: (parameter, first new row)}; old rows get no gradient."""
    emb = text.embeddings
    rows = {"token": (emb.token_embedding.weight, old_vocab), "position": (emb.position_embedding.weight, old_positions)}
    for weight, first in rows.values():
        weight.requires_grad_(True)
        weight.register_hook(lambda g, first=first: torch.cat([torch.zeros_like(g[:first]), g[first:]]))
    return rows


def tokenize(tokenizer, captions) -> torch.Tensor:
    return tokenizer(list(captions), padding="max_length", max_length=MAX_TOKENS, truncation=True,
                     return_tensors="pt").input_ids


# ----------------------------------------------------------------------------- model

def load_base(base: Path):
    from diffusers import AutoencoderKL, UNet2DConditionModel

    vae = AutoencoderKL.from_pretrained(base / "vae").eval().requires_grad_(False)
    unet = UNet2DConditionModel.from_pretrained(base / "unet")
    return vae, unet


def make_motion_unet(unet, seed: int):
    from diffusers import MotionAdapter, UNetMotionModel

    torch.manual_seed(seed)
    adapter = MotionAdapter(**adapter_config())
    zero_motion_outputs(adapter)
    model = UNetMotionModel.from_unet2d(unet, motion_adapter=adapter)
    model.freeze_unet2d_params()  # only the motion modules train
    return model


@torch.no_grad()
def zero_motion_outputs(module):
    """Zero every motion module's output projection, as AnimateDiff starts (diffusers draws them
    at random): each module is then the identity and the model is toy-scenes frame by frame."""
    for name, sub in module.named_modules():
        if name.endswith("proj_out") and "motion_modules" in name:
            sub.weight.zero_()
            sub.bias.zero_()


def motion_state(model) -> dict:
    """The MotionAdapter's weights, by UNetMotionModel's names."""
    return {k: v for k, v in model.state_dict().items() if "motion_modules" in k and not k.startswith(MOTION_TEXT)}


MOTION_TEXT = "motion_text."  # the UNet's motion-text conditioning (engine.models.motion_text), when trained


def averaged_state(model) -> dict:
    """What trains, is averaged (EMA) and ships: the motion modules and any motion-text conditioning."""
    return {k: v for k, v in model.state_dict().items() if "motion_modules" in k or k.startswith(MOTION_TEXT)}


def is_text_projection(name: str) -> bool:
    """The spatial cross-attention's key and value projections of the text (attn2.to_k / to_v):
    the one place where a word's embedding becomes something the image features can take up.
    Frozen, the motion words found no way in (the first run's right-vs-wrong loss stayed 1.00x)."""
    return ("attn2.to_k." in name or "attn2.to_v." in name) and "motion_modules" not in name


def text_projection_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if is_text_projection(k)}


@torch.no_grad()
def encode_clips(vae, videos: np.ndarray, gen: torch.Generator) -> torch.Tensor:
    """N x F x H x W x 3 uint8 -> N x 4 x F x h x w scaled latents (a posterior sample)."""
    n, f = videos.shape[:2]
    dist = vae.encode(to_tensor(videos.reshape(n * f, *videos.shape[2:])).to(vae.device)).latent_dist
    z = (dist.mean + dist.std * _randn(dist.mean.shape, gen, vae.device)) * vae.config.scaling_factor
    return z.reshape(n, f, *z.shape[1:]).permute(0, 2, 1, 3, 4)


def _randn(shape, gen: torch.Generator, device) -> torch.Tensor:
    """Noise drawn on the CPU generator, then moved: a run draws the same numbers on any device."""
    return torch.randn(shape, generator=gen).to(device)


def v_loss(model, text, tokenizer, sched, z, captions, t, noise) -> torch.Tensor:
    """Per-clip v-prediction MSE of `model` on latents z (N x C x F x h x w) at timesteps t (N)."""
    return v_errors(model, text, tokenizer, sched, z, captions, t, noise).pow(2).flatten(1).mean(1)


def v_errors(model, text, tokenizer, sched, z, captions, t, noise) -> torch.Tensor:
    """v-prediction errors, N x F x C x h x w."""
    n, _, f = z.shape[:3]
    t = t.to(z.device)
    hidden = text(input_ids=tokenize(tokenizer, captions).to(z.device)).last_hidden_state
    hidden = hidden.repeat_interleave(f, dim=0)  # UNetMotionModel wants the states per frame
    tf = t.repeat_interleave(f)
    flat = lambda x: x.permute(0, 2, 1, 3, 4).reshape(n * f, *x.shape[1:2], *x.shape[3:])  # noqa: E731
    noisy = sched.add_noise(flat(z), flat(noise), tf)
    target = sched.get_velocity(flat(z), flat(noise), tf)
    noisy = noisy.reshape(n, f, *noisy.shape[1:]).permute(0, 2, 1, 3, 4)
    pred = model(noisy, t, encoder_hidden_states=hidden).sample
    pred = pred.permute(0, 2, 1, 3, 4).reshape(n * f, *pred.shape[1:2], *pred.shape[3:])
    return (pred - target).reshape(n, f, *pred.shape[1:])


def motion_weighted_loss(errors: torch.Tensor, weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(training loss, plain v-MSE): the part of each clip's error that varies over its frames
    counts `weight` times more. A motion is a small change between frames (8 px over a clip is
    2 latent pixels) while the plain loss is mostly about what all frames share, which the image
    UNet already draws; measured in the shipped run's first 230 steps: frames already agreed
    (still objects) and nothing moved yet."""
    plain = errors.pow(2).mean()
    varying = (errors - errors.mean(dim=1, keepdim=True)).pow(2).mean()
    return plain + weight * varying, plain


OPPOSITE = {"moving to the left": "moving to the right", "moving to the right": "moving to the left",
            "moving up": "moving down", "moving down": "moving up", "growing": "shrinking", "shrinking": "growing"}


def wrong_motion(clip: M.MotionClip) -> M.MotionClip:
    """The clip with each moving object given the opposite motion: the same number of tokens in
    the same places, so only the motion words differ."""
    out = clip
    for index, motion in enumerate(clip.motions):
        if motion:
            out = M.with_motion(out, index, OPPOSITE[motion])
    return out


@torch.no_grad()
def motion_word_gap(model, text, tokenizer, vae, sched, seed: int = 1234, count: int = 16,
                    timesteps=(300, 600, 900, 990), still_word: str = "") -> dict:
    """Loss with the right motion words against the opposite ones, same clips, noise and timesteps.

    A model that ignores motion words scores the same on both (ratio 1.0); the ratio of the
    mean wrong-word loss to the right-word loss says how much the words steer the motion."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    clips = []
    while len(clips) < count:  # clips with at least one moving object
        c = M.sample_clip(rng)
        if any(c.motions):
            clips.append(c)
    videos = np.stack([M.render_clip(c) for c in clips])
    z = encode_clips(vae, videos, gen)
    right = [M.motion_caption(c, still_word) for c in clips]
    wrong = [M.motion_caption(wrong_motion(c), still_word) for c in clips]
    out = {}
    for tv in timesteps:
        noise = _randn(z.shape, gen, z.device)
        t = torch.full((count,), tv, dtype=torch.long)
        losses = []
        for caps in (right, wrong):
            losses.append(torch.cat([v_loss(model, text, tokenizer, sched, z[i:i + 4], caps[i:i + 4], t[i:i + 4],
                                            noise[i:i + 4]) for i in range(0, count, 4)]).mean().item())
        out[str(tv)] = {"right": round(losses[0], 5), "wrong": round(losses[1], 5),
                        "ratio": round(losses[1] / losses[0], 4)}
    return out


# ----------------------------------------------------------------------------- training

def train(out: Path, budget_s: float, seed: int, every_s: float, max_steps: int | None, threads: int,
          more_threads_at: float | None = None, batch: int = 4, lr: float = 1e-3, text_lr: float = 5e-3,
          gap_every: int = 400, gap_clips: int = 16, motion_weight: float = 3.0, cross_lr: float = 0.0,
          direct_lr: float = 0.0, init_from: Path | None = None, high_noise_share: float = 0.0, device: str = "cpu",
          still_share: float = M.P_STILL, two_share: float = 0.3, still_word: str = ""):
    from diffusers import DDPMScheduler

    stage = Stage(out, "motion", budget_s, every_s)
    if stage.done and stage.over() and (max_steps is None or stage.state["step"] >= max_steps):
        return stage.state  # finished: nothing to do
    base = base_folder()
    tokenizer = motion_tokenizer(base, out / "tokenizer", still_word)
    text, old_vocab, old_positions = motion_text_encoder(base, len(tokenizer))
    rows = new_rows(text, old_vocab, old_positions)
    vae, unet = load_base(base)
    model = make_motion_unet(unet, seed + 30)
    if direct_lr:  # the prompt read in front of each motion module (engine.models.motion_text)
        from engine.models.motion_text import MotionTextConditioning

        torch.manual_seed(seed + 33)
        MotionTextConditioning.for_unet(model).attach(model)
    init = _start_from(model, text, init_from) if init_from and not stage.state else None
    # a GPU takes the models; clips are still drawn and noise still sampled on the CPU, and the
    # checkpoint is saved from the CPU, so a run resumes or exports on any machine
    vae, model, text = vae.to(device), model.to(device), text.to(device)
    motion_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(MOTION_TEXT)]
    direct_params = [p for n, p in model.named_parameters() if n.startswith(MOTION_TEXT)]
    groups = [{"params": motion_params, "lr": lr, "weight_decay": 0.01},
              {"params": [w for w, _ in rows.values()], "lr": text_lr, "weight_decay": 0.0}]
    projections = [p for n, p in model.named_parameters() if is_text_projection(n)] if cross_lr else []
    for p in projections:  # lightly tuned: a small rate, and only these few spatial weights
        p.requires_grad_(True)
    if projections:
        groups.append({"params": projections, "lr": cross_lr, "weight_decay": 0.0})
    if direct_params:
        groups.append({"params": direct_params, "lr": direct_lr, "weight_decay": 0.01})
    opt = torch.optim.AdamW(groups)
    sched = DDPMScheduler(**{k: v for k, v in scheduler_config().items() if k != "set_alpha_to_one"})
    ema = {k: v.detach().clone() for k, v in averaged_state(model).items()}  # only they change
    step, gaps = 0, []
    rng = np.random.default_rng(seed + 31)
    gen = torch.Generator().manual_seed(seed + 32)
    if stage.state:
        model.load_state_dict(stage.state["motion"], strict=False)  # copied onto the model's device
        model.load_state_dict(stage.state.get("text_projections", {}), strict=False)
        emb = text.embeddings
        with torch.no_grad():
            emb.token_embedding.weight.copy_(stage.state["token_rows"])
            emb.position_embedding.weight.copy_(stage.state["position_rows"])
        opt.load_state_dict(stage.state["opt"])
        ema = {k: v.to(device) for k, v in stage.state["ema_motion"].items()}
        step = stage.state["step"]
        init = stage.state.get("init")
        gaps = json.loads(stage.state.get("gaps", "[]"))
        rng.bit_generator.state = json.loads(stage.state["rng"])
        gen.set_state(stage.state["gen"])
    tuner = ThreadTuner(threads)
    log(out, f"motion: {sum(p.numel() for p in motion_params) / 1e6:.2f}M motion params (spatial UNet, VAE, "
        f"text tower frozen), {len(tokenizer) - old_vocab} new tokens, {MAX_TOKENS} positions, "
        f"{sum(p.numel() for p in projections) / 1e6:.2f}M cross-attention text params at lr {cross_lr}, "
        f"{sum(p.numel() for p in direct_params) / 1e6:.2f}M motion-text params at lr {direct_lr}, "
        f"{f'initialised from {init_from} ' if init else ''}start step {step}, "
        f"{tuner.describe() or f'thr {threads}'}")
    running = None

    def state():
        emb = text.embeddings
        return _on_cpu(dict(
            motion=averaged_state(model), ema_motion=ema, init=init, opt=opt.state_dict(), step=step,
            text_projections=text_projection_state(model) if projections else {},
            token_rows=emb.token_embedding.weight.detach().clone(),
            position_rows=emb.position_embedding.weight.detach().clone(),
            old_vocab=old_vocab, old_positions=old_positions, still_word=still_word,
            rng=json.dumps(rng.bit_generator.state), gen=gen.get_state(), loss=running, gaps=json.dumps(gaps)))

    def measure_gap():
        with _swapped(model, ema):
            gap = motion_word_gap(model, text, tokenizer, vae, sched, count=gap_clips, still_word=still_word)
        gaps.append({"step": step, **gap})
        log(out, f"motion step {step} right vs wrong motion word (EMA): " +
            ", ".join(f"t={k} {v['right']:.4f}/{v['wrong']:.4f} ({v['ratio']:.3f}x)" for k, v in gap.items()))

    if step == 0 and gap_every:
        measure_gap()  # the baseline: an untrained adapter and text rows (gap_every 0: at the end only)
    while not stage.over() and (max_steps is None or step < max_steps):
        if more_threads_at is not None and time.time() >= more_threads_at and tuner.options[-1] < threads + 1:
            tuner = ThreadTuner(threads + 1)  # the machine has more room now
            more_threads_at = None
            log(out, f"motion: up to {threads + 1} threads from now")
        tick = time.time()
        videos, _, clips = M.render_clips(rng, batch, FRAMES, p_two=two_share, p_still=still_share)
        captions = [M.motion_caption(c, still_word) for c in clips]
        z = encode_clips(vae, videos, gen)
        captions = ["" if r < 0.1 else c for r, c in zip(torch.rand(batch, generator=gen).tolist(), captions)]
        # timesteps leaning to high noise, where a clip's layout (and so its motion) is decided
        t = (1000 * (1 - torch.rand(batch, generator=gen) ** 2)).long().clamp(0, 999)
        # and a share of the clips at the top of the schedule, where the input is all but pure noise: only
        # there must the motion come from the words alone (below it the noisy frames show where things are)
        top = torch.rand(batch, generator=gen) < high_noise_share
        t = torch.where(top, torch.randint(900, 1000, (batch,), generator=gen), t)
        noise = _randn(z.shape, gen, device)
        frac = stage.elapsed() / budget_s
        decay = 0.5 * (1 + math.cos(math.pi * min(1.0, frac))) * 0.9 + 0.1
        rates = [lr, text_lr] + ([cross_lr] if projections else []) + ([direct_lr] if direct_params else [])
        for group, base_lr in zip(opt.param_groups, rates):
            group["lr"] = lr_at(step, base_lr, 100) * decay
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
            errors = v_errors(model, text, tokenizer, sched, z, captions, t, noise).float()
        loss, plain = motion_weighted_loss(errors, motion_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(motion_params + projections + direct_params, 1.0)
        opt.step()
        _update_ema(ema, model, step)
        running = plain.item() if running is None else 0.98 * running + 0.02 * plain.item()
        tuner.tick(time.time() - tick)
        step += 1
        if step % 25 == 0:
            log(out, f"motion step {step} v-mse {running:.4f} t {stage.elapsed():.0f}s {tuner.describe()}")
        if gap_every and step % gap_every == 0:
            measure_gap()
        stage.maybe_save(state)
    if not gaps or gaps[-1]["step"] != step:
        measure_gap()
    stage.maybe_save(state, done=True)
    return torch.load(stage.path, weights_only=True)


def _on_cpu(value):
    """`value` with every tensor in it (nested dicts and lists too) on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(v) for v in value)
    return value


class _swapped:
    """Runs a block with the EMA motion weights in the model, then puts the live ones back."""

    def __init__(self, model, weights: dict):
        self.model, self.weights = model, weights

    def __enter__(self):
        self.live = {k: v.detach().clone() for k, v in averaged_state(self.model).items()}
        self.model.load_state_dict(self.weights, strict=False)

    def __exit__(self, *exc):
        self.model.load_state_dict(self.live, strict=False)


EMA_DECAY = 0.995  # some 1,500 steps fit the CPU budget: a short horizon


@torch.no_grad()
def _update_ema(ema: dict, model, step: int):
    d = min(EMA_DECAY, (1 + step) / (10 + step))
    for k, v in averaged_state(model).items():
        ema[k].mul_(d).add_(v.detach(), alpha=1 - d)


def _start_from(model, text, ckpt: Path) -> dict:
    """Start from another run's averaged weights (motion modules, text rows, spatial text
    projections): a second stage that adds to what the first learned. Returns what the manifest
    says about it."""
    state = torch.load(Path(ckpt), weights_only=True, map_location="cpu")
    missing, unexpected = model.load_state_dict(state["ema_motion"], strict=False)
    if unexpected:
        raise ValueError(f"{ckpt} does not fit this model ({unexpected[0]})")
    model.load_state_dict(state.get("text_projections", {}), strict=False)
    rows = state["token_rows"]
    if rows.shape[0] > text.embeddings.token_embedding.weight.shape[0]:
        raise ValueError(f"{ckpt} knows words this run's tokenizer lacks (give the same --still-word)")
    with torch.no_grad():  # a run that adds a word (--still-word) keeps that word's fresh row
        text.embeddings.token_embedding.weight[:rows.shape[0]] = rows
        text.embeddings.position_embedding.weight.copy_(state["position_rows"])
    before = state.get("init") or {}
    return {"from": str(ckpt), "steps": int(state["step"]) + int(before.get("steps", 0)),
            "minutes": round(float(state.get("elapsed", 0.0)) / 60 + float(before.get("minutes", 0.0)), 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/motion")
    parser.add_argument("--minutes", type=float, default=100.0, help="wall-clock training budget (survives resumes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="most torch threads (a tuner picks 1..N)")
    parser.add_argument("--more-threads-at", default=None,
                        help="UTC HH:MM after which one more thread may be used (the machine frees up)")
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--text-lr", type=float, default=5e-3)
    parser.add_argument("--gap-every", type=int, default=400, help="steps between right/wrong motion-word measures")
    parser.add_argument("--cross-lr", type=float, default=0.0,
                        help="also tune the spatial cross-attention's text projections at this rate (0: frozen)")
    parser.add_argument("--direct-lr", type=float, default=0.0,
                        help="give each motion module the prompt through its own cross-attention, trained at this rate")
    parser.add_argument("--init-from", default=None,
                        help="start from this checkpoint's averaged weights (another run's motion/ckpt.pt)")
    parser.add_argument("--high-noise-share", type=float, default=0.0,
                        help="share of clips trained at t in 900..999, where only the words say how things move")
    parser.add_argument("--device", default="cpu",
                        help="cpu (the recipe), or cuda where a GPU is lent: same steps, bf16 autocast, a larger --batch")
    parser.add_argument("--still-share", type=float, default=M.P_STILL,
                        help="share of objects drawn without a motion phrase (still)")
    parser.add_argument("--two-share", type=float, default=0.3, help="share of clips with two objects")
    parser.add_argument("--still-word", default="",
                        help=f"a word of its own for an object without a motion phrase (the recipe: {M.STILL_WORD})")
    parser.add_argument("--motion-weight", type=float, default=3.0,
                        help="extra weight of the error that varies over a clip's frames (0: plain v loss)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "args.json").write_text(json.dumps(vars(args), indent=1))
    at = None
    if args.more_threads_at:
        hh, mm = (int(x) for x in args.more_threads_at.split(":"))
        now = time.gmtime()
        at = calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, hh, mm, 0))
        if at < time.time() - 12 * 3600:  # 00:10 given at 23:00 is tomorrow's
            at += 86400
    t0 = time.time()
    log(out, f"start motion budget {args.minutes} min")
    train(out, args.minutes * 60, args.seed, args.checkpoint_minutes * 60, args.max_steps, args.threads, at,
          args.batch, args.lr, args.text_lr, args.gap_every, motion_weight=args.motion_weight, cross_lr=args.cross_lr,
          direct_lr=args.direct_lr, init_from=Path(args.init_from) if args.init_from else None,
          high_noise_share=args.high_noise_share, device=args.device,
          still_share=args.still_share, two_share=args.two_share, still_word=args.still_word)
    log(out, f"finished in {(time.time() - t0) / 60:.1f} min this session")


if __name__ == "__main__":
    main()
