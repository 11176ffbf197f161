#!/usr/bin/env bash
# Benchmarks zkserver side by side with Apache ZooKeeper 3.8 (Debian's `zookeeper` package):
# builds release binaries, runs `zkbench compare`, prints the table and writes JSON.
#   scripts/bench.sh            full matrix, 3 runs (about 12 minutes on a 2-core box)
#   scripts/bench.sh --quick    smoke run (about 2 minutes)
# Any other arguments go to `zkbench compare` (e.g. --runs 5, --config bench.toml, --no-apache).
# Environment: BENCH_WORKDIR (server data, default /tmp/zkbench), BENCH_JSON (output file).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p zkserver -p zkbench
if ! command -v java >/dev/null || [ ! -e /usr/share/java/zookeeper.jar ]; then
    echo "NOTE: Apache ZooKeeper (Debian package 'zookeeper') or java missing: zkserver only" >&2
fi
workdir="${BENCH_WORKDIR:-/tmp/zkbench}"
json="${BENCH_JSON:-bench-results.json}"
echo "zkbench compare started $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(nproc) cores" >&2
exec "$target/release/zkbench" compare \
    --zkserver-bin "$target/release/zkserver" \
    --workdir "$workdir" \
    --json "$json" \
    "$@"
