#!/usr/bin/env bash
# Builds the zkserver image from this checkout and runs the container fault tests (e2e/docker)
# against it. The tests create and remove their own networks and containers; they skip when
# docker is not usable. Usage: e2e/run-docker-tests.sh [pytest args...]
# ZK_E2E_IMAGE picks the tag (default zkserver:dev). ZK_E2E_TARGET=apache runs them against the
# host's Apache ZooKeeper instead (image zke2e-apache:host, see e2e/docker/apache-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ZK_E2E_TARGET:-zkserver}" = apache ]; then
  image="${ZK_E2E_IMAGE:-zke2e-apache:host}"
else
  image="${ZK_E2E_IMAGE:-zkserver:dev}"
fi
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  if [ "${ZK_E2E_TARGET:-zkserver}" = apache ]; then
    bash e2e/docker/apache-image.sh "$image"
  else
    bash scripts/docker-image.sh "$image"
  fi
else
  echo "docker is not usable here: the tests will be skipped" >&2
fi
ZK_E2E_IMAGE="$image" python3 -m pytest e2e/docker -q -p no:cacheprovider -rs "$@"
