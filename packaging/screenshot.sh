#!/usr/bin/env bash
# Screenshot of the real window under a virtual X server (needs Debian's xvfb and xauth).
set -euo pipefail
cd "$(dirname "$0")/.."
exec xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshot.py "$@"
