"""Where things live on disk: bundled resources, the user's data and config folders."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent


def resources_dir() -> Path:
    """The `resources/` folder beside the packages (override with LATENT_STUDIO_RESOURCES)."""
    override = os.environ.get("LATENT_STUDIO_RESOURCES")
    if override:
        return Path(override)
    return _PACKAGE_ROOT.parent / "resources"


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def shipped_configs_dir() -> Path:
    """Diffusers-layout configs used to load single-file checkpoints with no network."""
    return resources_dir() / "configs"


def user_data_dir() -> Path:
    override = os.environ.get("LATENT_STUDIO_DATA")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("latent-studio", appauthor=False))


def user_config_dir() -> Path:
    override = os.environ.get("LATENT_STUDIO_CONFIG")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("latent-studio", appauthor=False))
