#!/usr/bin/env bash
# Runs every test of the project. This is the README's test command, and what CI runs.
#   1. format check, clippy with warnings as errors
#   2. the whole workspace's tests (conformance on the mock and on the simulator, the
#      simulator's frame-level tests, the reliability proofs, the bridge's process tests)
#   3. Rocket.Chat's own @rocket.chat/ddp-client against the simulator
#   4. the live-conformance kit (provisioning + the live harness) against the simulator
#   5. the benchmark in quick mode, bounded fuzzing (30 s per target)
#   6. the end-to-end suite with a real OpenClaw gateway
# It installs what it needs (Node 24 from PyPI, npm packages pinned by lockfiles).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test --workspace"
cargo test --workspace --all-features --no-fail-fast

step "Rocket.Chat's ddp-client against the simulator"
cargo build -q -p rocketchat-sim
bash rocketchat-sim/ddp-client-check/run.sh "$CARGO_TARGET_DIR/debug/rocketchat-sim"

step "live-conformance kit against the simulator (http, then https/wss)"
bash scripts/live-conformance.sh
bash scripts/live-conformance.sh --tls

step "benchmark in quick mode (proves it runs; figures: docs/performance.md)"
cargo build -q --release -p bridge -p bench
"$CARGO_TARGET_DIR/release/bench" all --quick

step "bounded fuzzing of the DDP frame decoder and the message mapper"
bash scripts/fuzz.sh

step "end-to-end with a real OpenClaw gateway"
bash e2e/run.sh
