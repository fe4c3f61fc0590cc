"""What a model is: where it comes from and how to run it, independent of loading it."""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_FAMILIES = ("sd1", "sd2", "sdxl")
SCORER_FAMILIES = ("clip",)

# Sources, in the order the registry resolves them.
BUNDLED = "bundled"
LOCAL = "local"
HF_CACHE = "hf-cache"
SINGLE_FILE = "single-file"

# Native sizes when a model says nothing about itself.
FAMILY_NATIVE_SIZE = {"sd1": (512, 512), "sd2": (512, 512), "sdxl": (1024, 1024)}


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

    @property
    def reference(self) -> str:
        """What to record in a request so that it resolves to this model again."""
        return self.id if self.source in (BUNDLED, HF_CACHE) else self.location

    @property
    def is_image_model(self) -> bool:
        return self.family in IMAGE_FAMILIES

    def size(self) -> tuple[int, int]:
        return self.native_size or FAMILY_NATIVE_SIZE.get(self.family, (512, 512))

    def summary(self) -> dict:
        return {"id": self.id, "family": self.family, "source": self.source, "available": self.available}
