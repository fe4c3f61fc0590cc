"""The `latent-studio` entry point: no arguments (or a project folder) opens the window, anything else is the CLI.

Kept in `studio` so that `engine` never imports the GUI.
"""

from __future__ import annotations

import os
import sys

NO_SCREEN = (
    "latent-studio: no screen to open the window on (DISPLAY and WAYLAND_DISPLAY are unset). "
    "Run it on a desktop, set QT_QPA_PLATFORM, or try `latent-studio demo`, which writes generated "
    "images to ./latent-studio-demo without a window."
)


def has_screen(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt can open a window here; on Linux without X or Wayland it would abort with a
    cryptic plugin error, so we say what to do instead."""
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def opens_project(args: list[str]) -> str | None:
    """`latent-studio PROJECT_DIR`: the one argument is a folder (no subcommand is), so it opens in the window."""
    return args[0] if len(args) == 1 and os.path.isdir(args[0]) else None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from engine.threads import apply_thread_policy

    project = opens_project(args)
    apply_thread_policy(gui=not args or project is not None)  # before anything loads torch
    if not args or project is not None:
        if not has_screen():
            print(NO_SCREEN, file=sys.stderr)
            return 2
        from studio.app import main as run_app

        return run_app(sys.argv[:1], project=project)
    from engine.cli import main as run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
