#!/usr/bin/env bash
# Builds the zkserver image from this checkout and runs the container fault tests (e2e/docker)
# against it. The tests create and remove their own networks and containers; they skip when
# docker is not usable. Usage: e2e/run-docker-tests.sh [pytest args...]
# ZK_E2E_IMAGE picks the tag (default zkserver:dev).
set -euo pipefail
cd "$(dirname "$0")/.."
image="${ZK_E2E_IMAGE:-zkserver:dev}"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  bash scripts/docker-image.sh "$image"
else
  echo "docker is not usable here: the tests will be skipped" >&2
fi
ZK_E2E_IMAGE="$image" python3 -m pytest e2e/docker -q -p no:cacheprovider -rs "$@"
