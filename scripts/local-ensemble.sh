#!/usr/bin/env bash
# Runs a 3-server zkserver ensemble on this machine: clients on 127.0.0.1:2181,2182,2183,
# data in ./zk-ensemble/<id>. Ctrl-C stops all three (by PID). Usage: scripts/local-ensemble.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-3}"
cargo build --release -q -p zkserver
bin="${CARGO_TARGET_DIR:-target}/release/zkserver"
root="$PWD/zk-ensemble"
servers=""
for i in $(seq 1 "$n"); do
  servers+="server.$i=127.0.0.1:$((2887 + i)):$((3887 + i))"$'\n'
done
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM
for i in $(seq 1 "$n"); do
  mkdir -p "$root/$i/data"
  echo "$i" > "$root/$i/data/myid"
  cat > "$root/$i/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$root/$i/data
clientPort=$((2180 + i))
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
$servers
CFG
  "$bin" "$root/$i/zoo.cfg" > "$root/$i/zkserver.log" 2>&1 &
  pids+=("$!")
  echo "server $i: client port $((2180 + i)), log $root/$i/zkserver.log"
done
echo "ensemble running; connect string 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183 (Ctrl-C to stop)"
wait
