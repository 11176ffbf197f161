#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: Apache ZooKeeper 3.8 from Debian
# (reference server, zkCli.sh, Java client jars, C cli_mt), kazoo, PyYAML, and a pinned helm
# (scripts/install-helm.sh) for the chart tests. Idempotent.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ ! -x /usr/share/zookeeper/bin/zkCli.sh ] || [ ! -x /usr/lib/zookeeper/bin/cli_mt ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends zookeeper zookeeper-bin
fi
if ! python3 -c 'import kazoo, pytest, yaml' 2>/dev/null; then
  python3 -m pip install -q -r compat/requirements.txt
fi
bash "$(dirname "$0")/install-helm.sh"
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt
