"""Train the bundled "toy-scenes" models on CPU, seeded, checkpointed and resumable.

    python -m engine.toy.training.train --out runs/toy --minutes 85

Stages run in order, each with a share of the wall-clock budget:
  vae   AutoencoderKL, 64x64x3 -> 16x16x4 (downsample 4), L1 + MSE + tiny KL
  cache render a large seeded dataset once and encode it to latents (posterior mean and std)
  clip  CLIPModel (text + ViT) trained contrastively, with one-word-changed hard negative captions
  unet  UNet2DConditionModel (v-prediction, zero terminal SNR, EMA) under a frozen CLIPTextModel
        that is the scorer's text tower; 10% caption dropout to "" for classifier-free guidance

Every stage writes `<out>/<stage>/ckpt.pt` every few minutes (and at the end, with `done`), so a
killed run continues with the same command; `engine.toy.training.export` exports from whatever is latest.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from pathlib import Path

from engine.threads import apply_thread_policy

# Other work shares this machine's two cores: spinning OpenMP threads then steal time from each
# other (a 2-thread step measured 5.6 s against 0.9 s with 1 thread). Wait passively instead.
apply_thread_policy()

import numpy as np  # noqa: E402 - after the thread policy, which must precede torch
import torch
import torch.nn.functional as F

from engine.toy import scenes as S

SIZE = 64
MAX_TOKENS = 20  # longest caption is 19 tokens with BOS/EOS
STAGES = ("vae", "cache", "clip", "unet")
SHARES = {"vae": 0.12, "cache": 0.0, "clip": 0.12, "unet": 0.76}


# ----------------------------------------------------------------------------- configs

def vae_config() -> dict:
    return dict(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8,
        sample_size=SIZE, mid_block_add_attention=False,
    )


def text_config(vocab_size: int) -> dict:
    return dict(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
        num_attention_heads=4, max_position_embeddings=MAX_TOKENS, projection_dim=128,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
    )


def unet_config() -> dict:
    return dict(
        sample_size=SIZE // 4, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(64, 128, 128),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=128, attention_head_dim=32, norm_num_groups=32,
    )


def vision_config() -> dict:
    return dict(
        image_size=SIZE, patch_size=8, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
        num_attention_heads=4, projection_dim=128, num_channels=3,
    )


def scheduler_config() -> dict:
    # v-prediction with a zero-terminal-SNR schedule (Lin et al. 2023, as SD 2.1 ships it): with
    # epsilon prediction the loss on the layout is weighted by the SNR, about 0.005 at t=999, and
    # the first model trained here ignored "on the left"/"at the top" entirely (its loss was the
    # same to four decimals with the wrong position word at every t) because by the time a
    # blob's place shows in x_t the word adds nothing. v-prediction weights the clean image's
    # error ~1 at high noise, and zero terminal SNR makes t=999 pure noise, as sampling starts.
    return dict(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type="v_prediction", rescale_betas_zero_snr=True, clip_sample=False,
        set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing",
    )


CLIP_MEAN = [0.5, 0.5, 0.5]
CLIP_STD = [0.5, 0.5, 0.5]


# ----------------------------------------------------------------------------- helpers

def tokenizer_for(folder: Path):
    """The run's tokenizer: written once into `folder`, then always loaded from there.

    `engine.tokenizer.write_clip_tokenizer` writes the vocabulary, but its merges are ranked
    word by word, so a merge made for one word ("a n" from "and") pre-empts another's and
    "orange"/"triangle" split into 4-6 pieces (27 tokens for a long caption). We start from its
    files and re-rank the merges by simulating BPE, so every grammar word is one token. Once
    written, the files are reused unchanged, so the exported tokenizer is the trained one.
    """
    from transformers import CLIPTokenizer

    from engine.tokenizer import build_vocab_and_merges, bytes_to_unicode, write_clip_tokenizer

    folder = Path(folder)
    if (folder / "vocab.json").is_file():
        return CLIPTokenizer.from_pretrained(folder)
    write_clip_tokenizer(folder, S.VOCABULARY, model_max_length=MAX_TOKENS)
    byte_map = bytes_to_unicode()
    base_vocab, _ = build_vocab_and_merges([])
    tokens = [t for t in base_vocab if t not in ("<|startoftext|>", "<|endoftext|>")]
    known = set(tokens)
    merges: list[tuple[str, str]] = []
    for word in sorted(S.VOCABULARY):
        pieces = [byte_map[b] for b in word.encode("utf-8")]
        pieces[-1] += "</w>"
        pieces = _bpe(pieces, {m: i for i, m in enumerate(merges)})
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            merges.append(pair)
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            if pieces[0] not in known:
                known.add(pieces[0])
                tokens.append(pieces[0])
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False),
                                       encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n",
                                       encoding="utf-8")
    for stale in ("tokenizer.json",):
        if (folder / stale).exists():
            (folder / stale).unlink()
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    for word in S.VOCABULARY:
        assert len(tokenizer.tokenize(word)) == 1, (word, tokenizer.tokenize(word))
    return tokenizer


def _bpe(pieces: list[str], ranks: dict) -> list[str]:
    while len(pieces) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(pieces, pieces[1:]))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        pieces = pieces[:i] + [pieces[i] + pieces[i + 1]] + pieces[i + 2:]
    return pieces


def tokenize(tokenizer, captions) -> torch.Tensor:
    return tokenizer(list(captions), padding="max_length", max_length=MAX_TOKENS, truncation=True,
                     return_tensors="pt").input_ids


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class Stage:
    """Checkpoint bookkeeping for one stage: elapsed seconds survive restarts."""

    def __init__(self, out: Path, name: str, budget_s: float, every_s: float):
        self.dir = out / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "ckpt.pt"
        self.budget_s = budget_s
        self.every_s = every_s
        self.state = torch.load(self.path, weights_only=True) if self.path.is_file() else None
        self.elapsed0 = self.state["elapsed"] if self.state else 0.0
        self.t0 = time.time()
        self.last_save = time.time()

    @property
    def done(self) -> bool:
        return bool(self.state and self.state.get("done"))

    def elapsed(self) -> float:
        return self.elapsed0 + time.time() - self.t0

    def over(self) -> bool:
        return self.elapsed() >= self.budget_s

    def maybe_save(self, make_state, force=False, done=False):
        if force or done or time.time() - self.last_save >= self.every_s:
            state = make_state()
            state["elapsed"] = self.elapsed()
            state["done"] = done
            tmp = self.path.with_suffix(".tmp")
            torch.save(state, tmp)
            os.replace(tmp, self.path)
            self.last_save = time.time()
            log(self.dir.parent, f"{self.dir.name}: checkpoint step {state.get('step')} "
                f"elapsed {state['elapsed']:.0f}s{' DONE' if done else ''}")


def log(out: Path, message: str):
    line = f"{time.strftime('%H:%M:%S')} {message}"
    print(line, flush=True)
    with open(out / "train.log", "a", encoding="utf-8") as f:
        f.write(line + "\n")


def lr_at(step: int, base: float, warmup: int) -> float:
    return base * min(1.0, (step + 1) / warmup)


class ThreadTuner:
    """Picks 1 or `max_threads` torch threads by measured step time, re-probing now and then.

    With other processes on a 2-core machine, one thread is often twice as fast as two; when
    the machine is quiet two threads win. Probing costs a few steps every couple of hundred.
    """

    def __init__(self, max_threads: int, probe_every: int = 60, probe_len: int = 6):
        self.options = sorted({1, max_threads})
        self.times = {n: None for n in self.options}
        self.current = max_threads
        self.probe_every, self.probe_len = probe_every, probe_len
        self.count = 0
        self.best = max_threads
        torch.set_num_threads(self.current)

    def tick(self, seconds: float):
        old = self.times[self.current]
        self.times[self.current] = seconds if old is None else 0.8 * old + 0.2 * seconds
        self.count += 1
        phase = self.count % self.probe_every
        if len(self.options) == 1:
            return
        if phase == 0:  # probe the setting not in use
            self._set([n for n in self.options if n != self.best][0])
        elif phase == self.probe_len:
            self.best = min(self.options, key=lambda n: self.times[n] if self.times[n] is not None else 1e9)
            self._set(self.best)

    def _set(self, n: int):
        if n != self.current:
            self.current = n
            torch.set_num_threads(n)

    def describe(self) -> str:
        return f"thr {self.current} ({', '.join(f'{n}:{t:.2f}s' for n, t in self.times.items() if t)})"


class EMA:
    def __init__(self, model, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model, step: int):
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)


# ----------------------------------------------------------------------------- VAE

def train_vae(out: Path, budget_s: float, seed: int, every_s: float, max_steps: int | None, tuner):
    from diffusers import AutoencoderKL

    stage = Stage(out, "vae", budget_s, every_s)
    if stage.done and stage.over():
        return
    torch.manual_seed(seed)
    vae = AutoencoderKL(**vae_config())
    opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    step = 0
    rng = np.random.default_rng(seed + 1)
    if stage.state:
        vae.load_state_dict(stage.state["model"])
        opt.load_state_dict(stage.state["opt"])
        step = stage.state["step"]
        rng.bit_generator.state = stage.state["rng"]
    log(out, f"vae: {sum(p.numel() for p in vae.parameters()) / 1e6:.2f}M params, start step {step}")
    batch, kl_weight = 32, 1e-5
    running = None
    while not stage.over() and (max_steps is None or step < max_steps):
        tick = time.time()
        images, _, _ = S.render_batch(rng, batch, SIZE)
        x = to_tensor(images)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, 2e-3, 100) * (0.3 if stage.elapsed() > 0.7 * budget_s else 1.0)
        posterior = vae.encode(x).latent_dist
        z = posterior.sample()
        recon = vae.decode(z).sample
        # Shapes cover a few percent of the frame: weight saturated (object) pixels up so the
        # loss is not all background, else colours wash out (red -> orange, green -> dark).
        sat = (x.max(dim=1, keepdim=True).values - x.min(dim=1, keepdim=True).values) / 2
        weight = 1.0 + 12.0 * sat
        err = recon - x
        rec = ((err.abs() + err.pow(2)) * weight).mean() / weight.mean()
        kl = posterior.kl().mean() / (4 * 16 * 16)
        loss = rec + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        running = rec.item() if running is None else 0.98 * running + 0.02 * rec.item()
        tuner.tick(time.time() - tick)
        step += 1
        if step % 50 == 0:
            log(out, f"vae step {step} rec {running:.4f} kl {kl.item():.1f} t {stage.elapsed():.0f}s {tuner.describe()}")
        stage.maybe_save(lambda: dict(model=vae.state_dict(), opt=opt.state_dict(), step=step,
                                      rng=rng.bit_generator.state, loss=running))
    stage.maybe_save(lambda: dict(model=vae.state_dict(), opt=opt.state_dict(), step=step,
                                  rng=rng.bit_generator.state, loss=running), done=True)


def load_vae(out: Path):
    from diffusers import AutoencoderKL

    vae = AutoencoderKL(**vae_config())
    state = torch.load(out / "vae" / "ckpt.pt", weights_only=True)
    vae.load_state_dict(state["model"])
    vae.eval()
    if "scaling_factor" in state:
        vae.register_to_config(scaling_factor=state["scaling_factor"])
    return vae


# ----------------------------------------------------------------------------- latent cache

@torch.no_grad()
def build_cache(out: Path, seed: int, count: int):
    path = out / "cache" / "latents.pt"
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    vae = load_vae(out)
    rng = np.random.default_rng(seed + 2)
    means, stds, captions = [], [], []
    t0 = time.time()
    for start in range(0, count, 500):
        images, caps, _ = S.render_batch(rng, min(500, count - start), SIZE)
        dist = vae.encode(to_tensor(images)).latent_dist
        means.append(dist.mean.half())
        stds.append(dist.std.half())
        captions += caps
    mean = torch.cat(means)
    std = torch.cat(stds)
    # diffusion trains on posterior samples, so scale by their spread (means' variance + noise)
    scaling = float(1.0 / torch.sqrt(mean.float().var() + std.float().pow(2).mean()))
    torch.save(dict(mean=mean, std=std, captions=captions, scaling_factor=scaling, seconds=time.time() - t0),
               path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)
    # The VAE checkpoint carries the scaling factor for export.
    vae_state = torch.load(out / "vae" / "ckpt.pt", weights_only=True)
    vae_state["scaling_factor"] = scaling
    torch.save(vae_state, out / "vae" / "ckpt.tmp")
    os.replace(out / "vae" / "ckpt.tmp", out / "vae" / "ckpt.pt")
    log(out, f"cache: {count} latents in {time.time() - t0:.0f}s, latent std {1 / scaling:.3f}, "
        f"mean posterior std {std.float().mean():.4f}")


def cache_seconds(out: Path) -> float:
    """How long building the latent cache took (0 when there is none yet)."""
    path = out / "cache" / "latents.pt"
    if not path.is_file():
        return 0.0
    return float(torch.load(path, weights_only=True, mmap=True).get("seconds", 0.0))


# ----------------------------------------------------------------------------- CLIP scorer

# How often each kind of hard negative is drawn. The first scorer (uniform over kinds) told
# colours and backgrounds apart every time but lost on shape (0.79-0.84 pairwise) and on a second
# object's position (0.90), and it never saw a size word as the only change; the draw now leans
# on those.
NEGATIVE_KINDS_ONE = {"colour": 0.15, "shape": 0.35, "position": 0.25, "background": 0.05, "size": 0.2}
NEGATIVE_KINDS_TWO = {"colour": 0.1, "shape": 0.35, "position": 0.25, "background": 0.05, "swap": 0.25}


def perturb_caption(rng: np.random.Generator, scene: S.Scene) -> str:
    """The caption with one attribute changed (or two objects swapped): a hard negative."""
    objs = list(scene.objects)
    kinds = NEGATIVE_KINDS_ONE if len(objs) == 1 else NEGATIVE_KINDS_TWO
    kind = str(rng.choice(list(kinds), p=list(kinds.values())))
    i = int(rng.integers(0, len(objs)))
    o = objs[i]
    bg = scene.background
    if kind == "colour":
        objs[i] = dataclasses.replace(o, colour=str(rng.choice([c for c in S.COLOURS if c != o.colour])))
    elif kind == "shape":
        objs[i] = dataclasses.replace(o, shape=str(rng.choice([s for s in S.SHAPES if s != o.shape])))
    elif kind == "position":
        taken = {x.position for x in objs}
        objs[i] = dataclasses.replace(o, position=str(rng.choice([p for p in S.POSITIONS if p not in taken])))
    elif kind == "background":
        bg = str(rng.choice([b for b in S.BACKGROUNDS if b != bg]))
    elif kind == "size":
        objs[i] = dataclasses.replace(o, size=(None, "small", "large")[int(rng.choice(
            [k for k, z in enumerate((None, "small", "large")) if z != o.size]))])
    else:  # swap: the two objects trade places, or trade colours (what is where, what has which colour)
        a, b = objs
        if a.shape == b.shape and a.colour == b.colour:  # a swap would change nothing: recolour one
            objs[1] = dataclasses.replace(b, colour=str(rng.choice([c for c in S.COLOURS if c != b.colour])))
        elif rng.random() < 0.5 or a.colour == b.colour:
            objs = [dataclasses.replace(a, position=b.position), dataclasses.replace(b, position=a.position)]
        else:
            objs = [dataclasses.replace(a, colour=b.colour), dataclasses.replace(b, colour=a.colour)]
    return S.caption(S.Scene(tuple(objs), bg))


def _features(output):
    """transformers 5 returns an output object (projected features in pooler_output); 4.x a tensor."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def make_clip(vocab_size: int):
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(text_config=text_config(vocab_size), vision_config=vision_config(), projection_dim=128)
    return CLIPModel(config)


def train_clip(out: Path, budget_s: float, seed: int, every_s: float, max_steps: int | None, tuner):
    stage = Stage(out, "clip", budget_s, every_s)
    if stage.done and stage.over():
        return
    tokenizer = tokenizer_for(out / "tokenizer")
    torch.manual_seed(seed + 10)
    model = make_clip(len(tokenizer))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    step = 0
    rng = np.random.default_rng(seed + 11)
    if stage.state:
        model.load_state_dict(stage.state["model"])
        opt.load_state_dict(stage.state["opt"])
        step = stage.state["step"]
        rng.bit_generator.state = stage.state["rng"]
    log(out, f"clip: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, start step {step}")
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    batch, negs = 64, 2
    running = None
    while not stage.over() and (max_steps is None or step < max_steps):
        tick = time.time()
        images, caps, scenes = S.render_batch(rng, batch, SIZE)
        hard = [perturb_caption(rng, s) for _ in range(negs) for s in scenes]
        pixels = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
        ids = tokenize(tokenizer, caps + hard)
        frac = stage.elapsed() / budget_s
        lr = lr_at(step, 1e-3, 150) * (0.5 * (1 + math.cos(math.pi * min(1.0, frac))) * 0.95 + 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        img = F.normalize(_features(model.get_image_features(pixel_values=pixels)), dim=-1)
        txt = F.normalize(_features(model.get_text_features(input_ids=ids)), dim=-1)
        scale = model.logit_scale.exp().clamp(max=100)
        logits = scale * img @ txt.t()  # B x B(1+negs)
        target = torch.arange(batch)
        # duplicate captions in the batch are both right: mask those out of the negatives
        same = torch.tensor([[caps[i] == c for c in caps + hard] for i in range(batch)])
        same[target, target] = False
        logits_i = logits.masked_fill(same, -1e4)
        loss_i = F.cross_entropy(logits_i, target)
        logits_t = logits[:, :batch].t().masked_fill(same[:, :batch].t(), -1e4)
        loss_t = F.cross_entropy(logits_t, target)
        loss = 0.5 * (loss_i + loss_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            acc = (logits_i.argmax(1) == target).float().mean().item()
        running = (loss.item(), acc) if running is None else (0.98 * running[0] + 0.02 * loss.item(),
                                                              0.98 * running[1] + 0.02 * acc)
        tuner.tick(time.time() - tick)
        step += 1
        if step % 25 == 0:
            log(out, f"clip step {step} loss {running[0]:.3f} acc {running[1]:.3f} lr {lr:.2e} t {stage.elapsed():.0f}s {tuner.describe()}")
        stage.maybe_save(lambda: dict(model=model.state_dict(), opt=opt.state_dict(), step=step,
                                      rng=rng.bit_generator.state, loss=running))
    stage.maybe_save(lambda: dict(model=model.state_dict(), opt=opt.state_dict(), step=step,
                                  rng=rng.bit_generator.state, loss=running), done=True)


# ----------------------------------------------------------------------------- text encoder + UNet

def make_unet_and_text(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    return make_unet(), CLIPTextModel(CLIPTextConfig(**text_config(vocab_size)))


def make_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**unet_config())


def scorer_text_encoder(out: Path, vocab_size: int):
    """A frozen CLIPTextModel holding the trained scorer's text tower.

    The first model trained its text encoder from scratch together with the UNet and never
    learned position words: at the start neither the text side nor the UNet's queries tell
    places apart, and each only gains from the other (a saddle), so "on the left" and "at the
    top" gave the same loss to four decimals after 4,600 steps. The scorer's text tower already
    separates positions (its contrastive loss needs it), so the UNet starts with text that does.
    """
    from transformers import CLIPTextConfig, CLIPTextModel

    text = CLIPTextModel(CLIPTextConfig(**text_config(vocab_size)))
    scorer = torch.load(out / "clip" / "ckpt.pt", weights_only=True)["model"]
    prefix = "text_model."
    tower = {k[len(prefix):]: v for k, v in scorer.items() if k.startswith(prefix)}
    missing, unexpected = text.load_state_dict(tower, strict=False)
    if missing or [k for k in unexpected if not k.endswith("position_ids")]:
        raise RuntimeError(f"scorer text tower does not fit the text encoder: {missing} {unexpected}")
    text.eval().requires_grad_(False)
    return text


@torch.no_grad()
def encode_captions(text, tokenizer, captions, chunk: int = 2000) -> torch.Tensor:
    """Last hidden states of `captions` (N x MAX_TOKENS x hidden), fp16."""
    return torch.cat([text(input_ids=tokenize(tokenizer, captions[i:i + chunk])).last_hidden_state.half()
                      for i in range(0, len(captions), chunk)])


def train_unet(out: Path, budget_s: float, seed: int, every_s: float, max_steps: int | None, tuner,
               batch: int = 48, lr: float = 1e-3, offset_noise: float = 0.0):
    from diffusers import DDPMScheduler

    stage = Stage(out, "unet", budget_s, every_s)
    if stage.done and stage.over():
        return
    tokenizer = tokenizer_for(out / "tokenizer")
    cache = torch.load(out / "cache" / "latents.pt", weights_only=True)
    lat_mean, lat_std, captions = cache["mean"], cache["std"], cache["captions"]
    scaling = cache["scaling_factor"]
    torch.manual_seed(seed + 20)
    unet = make_unet()
    text = scorer_text_encoder(out, len(tokenizer))
    # The text encoder is frozen (as Stable Diffusion's CLIP is), so every caption's hidden states
    # are computed once: 50,000 x 20 x 128 in fp16 is 256 MB, and a step skips the text tower.
    all_hidden = encode_captions(text, tokenizer, captions)
    empty_hidden = encode_captions(text, tokenizer, [""])[0]
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.01)
    sched = DDPMScheduler(**{k: v for k, v in scheduler_config().items() if k != 'set_alpha_to_one'})
    step = 0
    gen = torch.Generator().manual_seed(seed + 21)
    ema_u = EMA(unet, 0.999)
    if stage.state:
        unet.load_state_dict(stage.state["unet"])
        opt.load_state_dict(stage.state["opt"])
        ema_u.shadow = stage.state["ema_unet"]
        step = stage.state["step"]
        gen.set_state(stage.state["gen"])
    log(out, f"unet: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f}M params, text "
        f"{sum(p.numel() for p in text.parameters()) / 1e6:.2f}M (frozen, from the scorer), start step {step}, "
        f"{len(captions)} samples")
    running = None
    n = len(captions)

    def state():
        # the frozen text encoder rides along so export reads one checkpoint
        return dict(unet=unet.state_dict(), text=text.state_dict(), opt=opt.state_dict(),
                    ema_unet=ema_u.shadow, ema_text=text.state_dict(), step=step, gen=gen.get_state(),
                    loss=running)
    while not stage.over() and (max_steps is None or step < max_steps):
        tick = time.time()
        idx = torch.randint(0, n, (batch,), generator=gen)
        z = (lat_mean[idx].float() + lat_std[idx].float() * torch.randn(lat_mean[idx].shape, generator=gen)) * scaling
        hidden = all_hidden[idx].float()
        drop = torch.rand(batch, generator=gen) < 0.1
        hidden[drop] = empty_hidden.float()
        t = torch.randint(0, 1000, (batch,), generator=gen)
        noise = torch.randn(z.shape, generator=gen)
        if offset_noise:
            # With the plain SD schedule t=999 leaves 7% of the signal, enough for a 16x16 latent's
            # mean to give the background away, so samples from pure noise came out gray; a
            # per-channel offset hid it. Zero terminal SNR removes the cause, so it defaults to 0.
            noise = noise + offset_noise * torch.randn(z.shape[0], z.shape[1], 1, 1, generator=gen)
        noisy = sched.add_noise(z, noise, t)
        frac = stage.elapsed() / budget_s
        cur_lr = lr_at(step, lr, 200) * (0.5 * (1 + math.cos(math.pi * min(1.0, frac))) * 0.9 + 0.1)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        pred = unet(noisy, t, encoder_hidden_states=hidden).sample
        # Plain v loss: in clean-image terms a weight of SNR + 1, so high-noise steps (where the
        # layout is decided) count fully. min-SNR weighting would cut them back to epsilon's SNR.
        target = sched.get_velocity(z, noise, t)
        loss = ((pred - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        ema_u.update(unet, step)
        plain = loss.item()
        running = plain if running is None else 0.99 * running + 0.01 * plain
        tuner.tick(time.time() - tick)
        step += 1
        if step % 25 == 0:
            log(out, f"unet step {step} v-mse {running:.4f} lr {cur_lr:.2e} t {stage.elapsed():.0f}s {tuner.describe()}")
        stage.maybe_save(state)
    stage.maybe_save(state, done=True)


# ----------------------------------------------------------------------------- CLI

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/toy")
    parser.add_argument("--minutes", type=float, default=85.0, help="wall-clock budget for all stages")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0)
    parser.add_argument("--cache-size", type=int, default=50000)
    parser.add_argument("--max-steps", type=int, default=None, help="per stage; for smoke tests")
    parser.add_argument("--vae-minutes", type=float, default=None, help="override the VAE's share")
    parser.add_argument("--clip-minutes", type=float, default=None, help="override the scorer's share")
    parser.add_argument("--unet-batch", type=int, default=48)
    parser.add_argument("--unet-lr", type=float, default=1e-3)
    parser.add_argument("--offset-noise", type=float, default=0.0)
    args = parser.parse_args(argv)
    tuner = ThreadTuner(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "args.json").write_text(json.dumps(vars(args), indent=1))
    budget = args.minutes * 60
    every = args.checkpoint_minutes * 60
    stages = args.stages.split(",")
    t0 = time.time()
    log(out, f"start {stages} budget {args.minutes} min")
    if "vae" in stages:
        train_vae(out, args.vae_minutes * 60 if args.vae_minutes else SHARES["vae"] * budget, args.seed, every, args.max_steps, tuner)
    if "cache" in stages:
        build_cache(out, args.seed, args.cache_size)
    if "clip" in stages:
        train_clip(out, args.clip_minutes * 60 if args.clip_minutes else SHARES["clip"] * budget, args.seed, every, args.max_steps, tuner)
    if "unet" in stages:
        # The UNet gets whatever is left of the budget, so a slow cache does not overrun it.
        spent = sum(Stage(out, s, 1, every).elapsed0 for s in ("vae", "clip")) + cache_seconds(out)
        left = max(60.0, budget - spent - 90.0)
        train_unet(out, left, args.seed, every, args.max_steps, tuner, args.unet_batch, args.unet_lr,
                   args.offset_noise)
    log(out, f"finished in {(time.time() - t0) / 60:.1f} min this session")


if __name__ == "__main__":
    main()
