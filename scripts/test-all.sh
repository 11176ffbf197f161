#!/usr/bin/env bash
# Runs every test: formatting and lints, the Helm chart (rendered by a real helm), Rust unit and
# integration tests (including the ones that compare with Apache ZooKeeper), then the
# real-client suites (kazoo, zkCli.sh, cli_mt, Apache's log/snapshot tools) against the release
# zkserver binary, and the Docker fault tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
ZK_REQUIRE_HELM=1 python3 -m pytest charts -q -p no:cacheprovider
cargo build --release
cargo test --workspace -- --test-threads=2
ZK_TARGET=zkserver ZKSERVER_BIN="$PWD/target/release/zkserver" python3 -m pytest compat -q -p no:cacheprovider
ZK_TARGET=zkserver-ensemble ZKSERVER_BIN="$PWD/target/release/zkserver" python3 -m pytest compat -q -p no:cacheprovider
# Container fault tests (kill -9 of the leader under load, partitions) on private Docker
# networks; they skip, saying why, where Docker is not usable.
bash e2e/run-docker-tests.sh
