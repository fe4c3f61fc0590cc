"""Export the trained motion adapter from a training checkpoint into resources/models.

    python -m engine.toy.training.export_motion --run runs/motion [--dest resources/models/toy-scenes-motion]
        [--sheet resources/docs/toy-scenes-motion-sheet.png] [--gif resources/docs/toy-scenes-motion.gif]

Writes an AnimateDiff motion adapter folder that names its base (the bundled toy-scenes):

    config.json + diffusion_pytorch_model.safetensors   the MotionAdapter (EMA weights)
    text_encoder/, tokenizer/                           the toy text side with the motion words
    cross_attention.safetensors                         the tuned text projections (runs with --cross-lr)
    motion_text.safetensors                             the prompt read by each motion module (--direct-lr)
    latent-studio.json                                  id, family animatediff, base toy-scenes, defaults,
                                                        and the still word (runs with --still-word)

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

from engine.models.loader import ADAPTER_CROSS_ATTENTION  # noqa: E402
from engine.models.motion_text import WEIGHTS_NAME as MOTION_TEXT_WEIGHTS  # noqa: E402
from engine.paths import bundled_models_dir  # noqa: E402
from engine.toy import motion_scenes as M  # noqa: E402
from engine.toy.training import train_motion as TM  # noqa: E402
from engine.toy.training.export import DEFAULT_GUIDANCE, DEFAULT_SCHEDULER, DEFAULT_STEPS, _swap_in  # noqa: E402

MODEL_ID = "toy-scenes-motion"
DEFAULT_FPS = 8


def adapter_from(state: dict, use_ema: bool = True):
    from diffusers import MotionAdapter

    adapter = MotionAdapter(**TM.adapter_config())
    weights = state["ema_motion"] if use_ema else state["motion"]
    adapter.load_state_dict({k: v for k, v in weights.items() if not k.startswith(TM.MOTION_TEXT)})
    return adapter.eval()


def motion_text_from(state: dict, use_ema: bool = True) -> dict:
    """The motion-text conditioning's weights (runs with --direct-lr), by its own names; {} if none."""
    weights = state["ema_motion"] if use_ema else state["motion"]
    return {k[len(TM.MOTION_TEXT):]: v.contiguous() for k, v in weights.items() if k.startswith(TM.MOTION_TEXT)}


def text_from(run: Path, state: dict):
    tokenizer = TM.motion_tokenizer(TM.base_folder(), run / "tokenizer")
    text, _, _ = TM.motion_text_encoder(TM.base_folder(), len(tokenizer))
    with torch.no_grad():
        text.embeddings.token_embedding.weight.copy_(state["token_rows"])
        text.embeddings.position_embedding.weight.copy_(state["position_rows"])
    return text, tokenizer


def manifest(state: dict) -> dict:
    gaps = json.loads(state.get("gaps", "[]"))
    init = state.get("init") or {}  # a run started from another's weights (--init-from): both stages count
    return {
        "id": MODEL_ID, "family": "animatediff", "base": TM.BASE_ID, "native_size": [TM.SIZE, TM.SIZE],
        "default_frames": TM.FRAMES, "default_fps": DEFAULT_FPS, "default_steps": DEFAULT_STEPS,
        "default_guidance": DEFAULT_GUIDANCE, "default_scheduler": DEFAULT_SCHEDULER,
        "description": "Bundled offline motion model trained by Latent Studio: toy-scenes' shapes moving "
                       "left, right, up or down, growing or shrinking, as the prompt says. 64x64, 8 frames. "
                       f"Prompt like '{M.EXAMPLE_CAPTION}'.",
        "draws": M.what_it_draws(), "example_prompt": M.EXAMPLE_CAPTION,
        # trained with --still-word: the clip task writes it into prompts as training did (mark_still)
        **({"still_word": state["still_word"]} if state.get("still_word") else {}),
        "training": {"steps": int(state["step"]) + int(init.get("steps", 0)), "v_mse": state.get("loss"),
                     "finished": bool(state.get("done")),
                     "minutes": round(float(state.get("elapsed", 0.0)) / 60 + float(init.get("minutes", 0.0)), 1),
                     "stages": ([{"steps": init["steps"], "minutes": init["minutes"], "run": init["from"]}] if init else [])
                     + [{"steps": int(state["step"]), "minutes": round(float(state.get("elapsed", 0.0)) / 60, 1)}],
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
    if state.get("text_projections"):  # trained with --cross-lr: the tuned spatial text projections
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state["text_projections"].items()}, str(tmp / ADAPTER_CROSS_ATTENTION))
    conditioning = motion_text_from(state, use_ema)
    if conditioning:
        from safetensors.torch import save_file

        save_file(conditioning, str(tmp / MOTION_TEXT_WEIGHTS))
    info = manifest(state)
    (tmp / "latent-studio.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    _swap_in(tmp, dest)
    return info


SHOWCASE = [
    "a red circle on the left moving to the right on a black background",
    "a large blue square in the center moving to the left on a white background",
    "a yellow triangle at the top moving down on a gray background",
    "a green circle at the bottom moving up on a black background",
    "a purple square in the center growing on a white background",
    "a large orange circle in the center shrinking on a gray background",
    "a small red triangle on the right on a white background",
    "a blue circle on the left moving up and a yellow square on the right moving down on a black background",
]


def write_docs(dest: Path, sheet: Path | None, gif: Path | None, seed: int = 7) -> list[dict]:
    """Clips of SHOWCASE made by the clip task from the exported folder: a contact sheet of their
    frames with the checker's verdicts, and an animated GIF of them side by side."""
    import tempfile

    from engine.models.cache import ModelCache
    from engine.toy import evaluate_motion as E
    from engine.toy.motion_checker import check_clip

    models = ModelCache()
    clips, checks = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for index, text in enumerate(SHOWCASE):
            frames, _ = E.make_clip(models, str(dest), text, seed, Path(scratch) / str(index))
            clips.append(frames)
            checks.append(check_clip(frames, text))
    if sheet:
        E.write_clip_sheet(SHOWCASE, clips, checks, sheet)
    if gif:
        E.write_gif(clips, gif, columns=4, scale=2)
    return [{"caption": t, **c.to_json()} for t, c in zip(SHOWCASE, checks)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/motion")
    parser.add_argument("--dest", default=str(bundled_models_dir() / MODEL_ID))
    parser.add_argument("--no-ema", action="store_true", help="export the live weights, not their average")
    parser.add_argument("--sheet", default=None, help="also write a contact sheet PNG of showcase clips here")
    parser.add_argument("--gif", default=None, help="also write an animated GIF of the showcase clips here")
    parser.add_argument("--skip-export", action="store_true", help="only the sheet/GIF, from the folder as it is")
    args = parser.parse_args(argv)
    dest = Path(args.dest).resolve()
    if not args.skip_export:
        info = export(Path(args.run), dest, use_ema=not args.no_ema)
        size = sum(p.stat().st_size for p in dest.rglob("*.safetensors"))
        print(json.dumps({**info["training"], "dest": str(dest), "safetensors_mb": round(size / 2**20, 2)}, indent=1))
    if args.sheet or args.gif:
        for row in write_docs(dest, Path(args.sheet) if args.sheet else None, Path(args.gif) if args.gif else None):
            print(json.dumps({"caption": row["caption"], "motion_ok": [o["motion_ok"] for o in row["objects"]],
                              "travel_px": [o["travel_px"] for o in row["objects"]]}))


if __name__ == "__main__":
    main()
