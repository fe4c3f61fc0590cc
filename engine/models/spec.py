"""What a model is: where it comes from and how to run it, independent of loading it."""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_FAMILIES = ("sd1", "sd2", "sdxl")
SCORER_FAMILIES = ("clip",)
# Families that make clips (frames), not images; an AnimateDiff entry is a motion adapter on an SD 1.x base.
VIDEO_FAMILIES = ("animatediff", "svd", "ltx", "wan")

# Sources, in the order the registry resolves them.
BUNDLED = "bundled"
LOCAL = "local"
HF_CACHE = "hf-cache"
SINGLE_FILE = "single-file"

# Native sizes when a model says nothing about itself.
FAMILY_NATIVE_SIZE = {"sd1": (512, 512), "sd2": (512, 512), "sdxl": (1024, 1024), "animatediff": (512, 512),
                      "svd": (576, 1024), "ltx": (512, 704), "wan": (480, 832)}


@dataclass(frozen=True)
class ModelSpec:
    id: str
    family: str
    source: str
    location: str  # a folder, a .safetensors file, or a Hugging Face repo id
    available: bool = True
    native_size: tuple[int, int] | None = None  # (height, width)
    default_steps: int = 25
    default_guidance: float = 7.0
    default_scheduler: str = "dpm++_2m"
    description: str = ""
    # What its prompts may say and one prompt that works, for the prompt box and the model picker
    # (a toy model knows a small grammar; a general model leaves these empty).
    draws: str = ""
    example_prompt: str = ""
    dtype: str | None = None  # None: float16 on GPU, float32 on CPU
    config_dir: str | None = None  # single files: the diffusers config to build the pipeline with
    trust_pickle: bool = False
    problem: str = ""  # why an unavailable model cannot be used, as a sentence
    base: str = ""  # a motion adapter's image model (its manifest's "base"), or "" when it needs one given
    default_frames: int = 16  # clip models: frames and frames per second when a request leaves them out
    default_fps: int = 8
    # A motion model trained to read a word for an object its prompt gives no motion (the bundled
    # toy-scenes-motion: "still"); the clip tasks write it in (engine.toy.motion_scenes.mark_still).
    still_word: str = ""

    @classmethod
    def unusable(cls, model_id: str, source: str, location: str, problem: str) -> "ModelSpec":
        """A listing entry for a model folder that cannot be used, so the others still show."""
        return cls(id=model_id, family="unknown", source=source, location=location, available=False, problem=problem)

    @property
    def reference(self) -> str:
        """What to record in a request so that it resolves to this model again."""
        return self.id if self.source in (BUNDLED, HF_CACHE) else self.location

    @property
    def is_image_model(self) -> bool:
        return self.family in IMAGE_FAMILIES

    @property
    def is_clip_model(self) -> bool:
        return self.family in VIDEO_FAMILIES

    @property
    def kind(self) -> str:
        """What the model makes: "image", "clip", "scorer" (or "unknown" for an unusable entry)."""
        if self.is_clip_model:
            return "clip"
        if self.family in SCORER_FAMILIES:
            return "scorer"
        return "image" if self.is_image_model else "unknown"

    def size(self) -> tuple[int, int]:
        return self.native_size or FAMILY_NATIVE_SIZE.get(self.family, (512, 512))

    def summary(self) -> dict:
        summary = {"id": self.id, "family": self.family, "kind": self.kind, "source": self.source,
                   "available": self.available}
        if self.base:
            summary["base"] = self.base
        if self.problem:
            summary["problem"] = self.problem
        return summary
