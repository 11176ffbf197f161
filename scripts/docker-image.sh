#!/usr/bin/env bash
# Builds the `zkserver:dev` image from scratch: the release binary, the shared libraries it
# links (from `ldd`), and a default zoo.cfg. Usage: scripts/docker-image.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-zkserver:dev}"
cargo build --release -p zkserver
bin="${CARGO_TARGET_DIR:-target}/release/zkserver"
root=docker/rootfs
rm -rf "$root"
mkdir -p "$root/usr/local/bin" "$root/etc/zookeeper" "$root/data" "$root/tmp"
cp "$bin" "$root/usr/local/bin/"
cp docker/zoo.cfg "$root/etc/zookeeper/zoo.cfg"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
docker build -q -t "$tag" .
echo "built $tag"
