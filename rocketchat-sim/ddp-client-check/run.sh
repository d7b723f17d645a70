#!/usr/bin/env bash
# Independent check of the simulator with Rocket.Chat's own DDP client.
# Usage: bash rocketchat-sim/ddp-client-check/run.sh <path-to-rocketchat-sim-binary>
# Exits non-zero when the check fails. Needs node (>= 20) and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$here"
if [ ! -d node_modules/@rocket.chat/ddp-client ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# Node 20 needs the flag for the global WebSocket; Node 22+ has it by default.
flags=()
if [ "$(node -e 'process.stdout.write(typeof WebSocket)')" = "undefined" ]; then
  flags+=(--experimental-websocket)
fi
exec node "${flags[@]}" check.mjs "$binary"
