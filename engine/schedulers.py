"""Schedulers by name, with the names AUTOMATIC1111 users know for the PNG metadata."""

from __future__ import annotations

from engine.errors import BadInput

# name -> (diffusers class, config overrides, AUTOMATIC1111 sampler name)
SCHEDULERS = {
    "ddim": ("DDIMScheduler", {}, "DDIM"),
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "dpm++_2m": ("DPMSolverMultistepScheduler", {}, "DPM++ 2M"),
    "dpm++_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}, "DPM++ 2M Karras"),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC"),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}, "PLMS"),  # PLMS, as Stable Diffusion ships it
    "heun": ("HeunDiscreteScheduler", {}, "Heun"),
    "lcm": ("LCMScheduler", {}, "LCM"),
}


def scheduler_names() -> list[str]:
    return sorted(SCHEDULERS)


def a1111_name(name: str) -> str:
    return SCHEDULERS[name][2] if name in SCHEDULERS else name


def make_scheduler(name: str, base_config):
    """A new scheduler of kind `name` built from a pipeline's scheduler config."""
    import diffusers

    if name not in SCHEDULERS:
        raise BadInput(f"Unknown scheduler {name!r}; choose one of: {', '.join(scheduler_names())}.")
    class_name, overrides, _ = SCHEDULERS[name]
    return getattr(diffusers, class_name).from_config(dict(base_config), **overrides)
