"""The `latent-studio` entry point: no arguments opens the window, anything else is the CLI.

Kept in `studio` so that `engine` never imports the GUI.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from studio.app import main as run_app

        return run_app(sys.argv[:1])
    from engine.cli import main as run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
