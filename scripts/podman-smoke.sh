#!/usr/bin/env bash
# Build the Dockerfile with podman, run the image on port ${1:-8765} and wait for /healthz (takes minutes;
# not part of CI). Needs the shared tools checked out beside the repository (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ../shared/tools/podman-build optadvisor --run "${1:-8765}"
