"""Where things live on disk: bundled resources, the user's data and config folders."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent
# The name resources/ is installed under (setup.py): a bare "resources" in site-packages would clash.
INSTALLED_RESOURCES = "latent_studio_resources"


def resources_dir() -> Path:
    """The bundled models, configs, icons and styles: LATENT_STUDIO_RESOURCES if set; in a checkout
    the `resources/` folder beside the packages; installed, the `latent_studio_resources` package."""
    override = os.environ.get("LATENT_STUDIO_RESOURCES")
    if override:
        return Path(override)
    checkout = _PACKAGE_ROOT.parent / "resources"
    if (_PACKAGE_ROOT.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    spec = importlib.util.find_spec(INSTALLED_RESOURCES)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout  # neither: the registry lists no bundled models and says so


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
