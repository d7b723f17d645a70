#!/usr/bin/env bash
# Runs every test of the project: format check, clippy (warnings are errors), and the whole
# workspace's tests. This is the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== cargo test --workspace"
cargo test --workspace --all-features
