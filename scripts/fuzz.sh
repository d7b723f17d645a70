#!/usr/bin/env bash
# Bounded fuzzing (libFuzzer through cargo-fuzz) of the DDP frame decoder and the message
# mapper: backend-rocketchat/fuzz/fuzz_targets/{ddp_frame,message_mapper}.rs.
#   FUZZ_SECONDS per target, default 30 (what CI runs). A long run:
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh
# cargo-fuzz needs the compiler's unstable sanitizer flags. This machine has only the stable
# toolchain, so RUSTC_BOOTSTRAP=1 enables them for this fuzz build alone (the product is
# never built that way). With a nightly toolchain, `cargo +nightly fuzz run <target>` works too.
set -euo pipefail
cd "$(dirname "$0")/../backend-rocketchat/fuzz"
# Its own target dir: the fuzz build uses other compiler flags than the workspace build.
export CARGO_TARGET_DIR="$PWD/target"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
for target in ddp_frame message_mapper; do
  echo "fuzz: $target for ${FUZZ_SECONDS:-30} s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="${FUZZ_SECONDS:-30}" 2>&1 | tail -n 3
  # `tail` hides the exit code; a crash leaves an artifact and a non-zero PIPESTATUS.
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED (see backend-rocketchat/fuzz/artifacts/$target)"
    exit "$status"
  fi
done
echo "fuzz: no crash"
