#!/usr/bin/env bash
# The live conformance kit, proved against the simulator: the very path a real Rocket.Chat
# 8.2.0 takes (deploy/README.md), with the simulator as the server.
#
#   1. build and start the `rocketchat-sim` binary on a free port (REST/DDP rate limiters
#      off, as deploy/docker-compose.yml sets them; 2FA stays on);
#   2. run `rc-provision` against it twice: a fresh run, then a second one that must reuse
#      the same users, rooms and DM (only the random passwords and the PATs change; the
#      passwords, kept in --passwords-file with mode 0600, must differ between the runs);
#   3. eval the printed RC_TEST_* environment and run
#      `CONFORMANCE_REQUIRE_LIVE=1 cargo test -p backend-rocketchat --test conformance_live`;
#   4. check that the run cleaned up after itself (no user messages left in the test rooms).
#
# `--tls`: the same over https/wss, with a local certificate made by the openssl one-liner
# of deploy/README.md and trusted through `rc-provision --ca-file` (RC_TEST_CA_FILE).
#
# Exits non-zero on any failure; the simulator is stopped on exit. Needs cargo and python3
# (and openssl for --tls).
set -euo pipefail
cd "$(dirname "$0")/.."

tls=0
case "${1:-}" in
    "") ;;
    --tls) tls=1 ;;
    *) echo "usage: $0 [--tls]" >&2; exit 2 ;;
esac

# Only what this script provisions may reach the tests.
for name in $(compgen -v RC_TEST_ || true); do unset "$name"; done

say() { echo "== live-conformance: $*" >&2; }
fail() { echo "live-conformance: FAILED: $*" >&2; exit 1; }

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}"

say "building rocketchat-sim and rc-provision"
cargo build --quiet -p rocketchat-sim -p rc-provision --bins
sim_bin="$target_dir/debug/rocketchat-sim"
provision_bin="$target_dir/debug/rc-provision"

work="$(mktemp -d)"
sim_pid=""
cleanup() {
    local status=$?
    if ((status != 0)) && [[ -s "$work/sim.err" ]]; then
        echo "--- last lines of the simulator's log:" >&2
        tail -n 40 "$work/sim.err" >&2
    fi
    if [[ -n "$sim_pid" ]]; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

sim_args=(--port 0 --no-rate-limits)
provision_args=(--insecure)
if ((tls)); then
    say "making a local certificate (deploy/README.md)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || fail "openssl"
    sim_args+=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    provision_args=(--ca-file "$work/cert.pem")
fi

say "starting the simulator"
"$sim_bin" "${sim_args[@]}" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 1 200); do
    [[ -s "$work/sim.out" ]] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err" >&2; fail "the simulator exited"; }
    sleep 0.1
done
[[ -s "$work/sim.out" ]] || fail "the simulator printed no address"
url="$(head -n1 "$work/sim.out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["baseUrl"])')"
say "simulator at $url"

# The simulator's admin is admin/admin. The password goes through the environment, never argv.
# $1: the --passwords-file.
provision() {
    RC_ADMIN_PASSWORD=admin "$provision_bin" --url "$url" "${provision_args[@]}" --admin-user admin \
        --passwords-file "$1"
}

say "provisioning (fresh)"
first="$(provision "$work/passwords.1")" || fail "rc-provision (fresh run)"
eval "$first"
ids=(RC_TEST_BOT_USER_ID RC_TEST_PEER_USER_ID RC_TEST_ROOM_ID RC_TEST_PRIVATE_ROOM_ID RC_TEST_DM_ROOM_ID)
declare -A fresh
for name in "${ids[@]}"; do
    [[ -n "${!name:-}" ]] || fail "the fresh run printed no $name"
    fresh[$name]="${!name}"
done
fresh_token="$RC_TEST_BOT_TOKEN"

say "provisioning again (must reuse everything)"
second="$(provision "$work/passwords.2")" || fail "rc-provision (second run)"
eval "$second"
for name in "${ids[@]}"; do
    [[ "${!name}" == "${fresh[$name]}" ]] ||
        fail "$name changed between runs (${fresh[$name]} -> ${!name}): not idempotent"
done
[[ "$RC_TEST_BOT_TOKEN" != "$fresh_token" ]] || fail "the second run did not regenerate the bot's PAT"
for file in "$work/passwords.1" "$work/passwords.2"; do
    [[ "$(stat -c %a "$file")" == 600 ]] || fail "$(basename "$file") is not mode 0600"
    [[ "$(wc -l <"$file")" -eq 2 ]] || fail "$(basename "$file") does not hold the bot and the peer"
done
# Same users in the same order, every password new (the passwords themselves are never shown).
[[ "$(cut -d' ' -f1 "$work/passwords.1")" == "$(cut -d' ' -f1 "$work/passwords.2")" ]] ||
    fail "the passwords files name different users"
[[ -z "$(comm -12 <(cut -d' ' -f2 "$work/passwords.1" | sort) <(cut -d' ' -f2 "$work/passwords.2" | sort))" ]] ||
    fail "the second run kept a password"
say "idempotent: same user, room and DM ids; new passwords and PATs"

say "running the conformance suite through the RC_TEST_* path"
CONFORMANCE_REQUIRE_LIVE=1 cargo test -p backend-rocketchat --test conformance_live ||
    fail "conformance_live"

say "checking that the run cleaned up its messages"
for room in "$RC_TEST_ROOM_ID" "$RC_TEST_DM_ROOM_ID"; do
    left="$(URL="$url" ROOM="$room" CA="${RC_TEST_CA_FILE:-}" python3 - <<'EOF'
import json, os, ssl, urllib.request
context = ssl.create_default_context(cafile=os.environ["CA"] or None)
req = urllib.request.Request(
    os.environ["URL"] + "/_sim/messages",
    data=json.dumps({"roomId": os.environ["ROOM"]}).encode(),
    headers={"content-type": "application/json"},
)
reply = json.load(urllib.request.urlopen(req, timeout=30, context=context))
if reply.get("ok") is not True or not isinstance(reply.get("messages"), list):
    raise SystemExit(f"unexpected control reply: {reply}")
messages = reply["messages"]
# System messages (joins, ...) have a type `t`; everything else was posted by the run.
print(sum(1 for m in messages if not m.get("t")))
EOF
)" || fail "reading room $room from the simulator"
    [[ "$left" == "0" ]] || fail "$left message(s) left behind in room $room"
done

say "OK"
