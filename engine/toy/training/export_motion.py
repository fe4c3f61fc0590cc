"""Export the trained motion adapter from a training checkpoint into resources/models.

    python -m engine.toy.training.export_motion --run runs/motion [--dest resources/models/toy-scenes-motion]

Writes an AnimateDiff motion adapter folder that names its base (the bundled toy-scenes):

    config.json + diffusion_pytorch_model.safetensors   the MotionAdapter (EMA weights)
    text_encoder/, tokenizer/                           the toy text side with the motion words
    latent-studio.json                                  id, family animatediff, base toy-scenes, defaults

Works from whatever checkpoint exists (a run still going or cut short). The folder is written
beside the destination and swapped in, so a failed export never leaves half a model.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from engine.threads import apply_thread_policy

apply_thread_policy()  # before torch loads

import torch  # noqa: E402

from engine.paths import bundled_models_dir  # noqa: E402
from engine.toy import motion_scenes as M  # noqa: E402
from engine.toy.training import train_motion as TM  # noqa: E402
from engine.toy.training.export import DEFAULT_GUIDANCE, DEFAULT_SCHEDULER, DEFAULT_STEPS, _swap_in  # noqa: E402

MODEL_ID = "toy-scenes-motion"
DEFAULT_FPS = 8


def adapter_from(state: dict, use_ema: bool = True):
    from diffusers import MotionAdapter

    adapter = MotionAdapter(**TM.adapter_config())
    adapter.load_state_dict(state["ema_motion"] if use_ema else state["motion"])
    return adapter.eval()


def text_from(run: Path, state: dict):
    tokenizer = TM.motion_tokenizer(TM.base_folder(), run / "tokenizer")
    text, _, _ = TM.motion_text_encoder(TM.base_folder(), len(tokenizer))
    with torch.no_grad():
        text.embeddings.token_embedding.weight.copy_(state["token_rows"])
        text.embeddings.position_embedding.weight.copy_(state["position_rows"])
    return text, tokenizer


def manifest(state: dict) -> dict:
    gaps = json.loads(state.get("gaps", "[]"))
    return {
        "id": MODEL_ID, "family": "animatediff", "base": TM.BASE_ID, "native_size": [TM.SIZE, TM.SIZE],
        "default_frames": TM.FRAMES, "default_fps": DEFAULT_FPS, "default_steps": DEFAULT_STEPS,
        "default_guidance": DEFAULT_GUIDANCE, "default_scheduler": DEFAULT_SCHEDULER,
        "description": "Bundled offline motion model trained by Latent Studio: toy-scenes' shapes moving "
                       "left, right, up or down, growing or shrinking, as the prompt says. 64x64, 8 frames. "
                       f"Prompt like '{M.EXAMPLE_CAPTION}'.",
        "draws": M.what_it_draws(), "example_prompt": M.EXAMPLE_CAPTION,
        "training": {"steps": int(state["step"]), "v_mse": state.get("loss"), "finished": bool(state.get("done")),
                     "minutes": round(float(state.get("elapsed", 0.0)) / 60, 1),
                     "motion_word_loss": gaps[-1] if gaps else None},
    }


def export(run: Path, dest: Path, use_ema: bool = True) -> dict:
    run, dest = Path(run), Path(dest)
    state = torch.load(run / "motion" / "ckpt.pt", weights_only=True)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    adapter_from(state, use_ema).save_pretrained(tmp, safe_serialization=True)
    text, tokenizer = text_from(run, state)
    text.save_pretrained(tmp / "text_encoder", safe_serialization=True)
    tokenizer.save_pretrained(tmp / "tokenizer")
    info = manifest(state)
    (tmp / "latent-studio.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    _swap_in(tmp, dest)
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/motion")
    parser.add_argument("--dest", default=str(bundled_models_dir() / MODEL_ID))
    parser.add_argument("--no-ema", action="store_true", help="export the live weights, not their average")
    args = parser.parse_args(argv)
    info = export(Path(args.run), Path(args.dest), use_ema=not args.no_ema)
    size = sum(p.stat().st_size for p in Path(args.dest).rglob("*.safetensors"))
    print(json.dumps({**info["training"], "dest": args.dest, "safetensors_mb": round(size / 2**20, 2)}, indent=1))


if __name__ == "__main__":
    main()
