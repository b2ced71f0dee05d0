#!/usr/bin/env bash
# Compares ferrokms binaries with each other and with the hot-path ceiling under wrk, alternating
# sample by sample in one run (the machine is shared: compare ratios, never absolute figures).
# Each binary gets its own data directory and port; every sample resends one presigned TC3
# GenerateDataKey, signed afresh before each sample (valid for the 300 s clock skew).
# Usage: scripts/compare-wrk.sh [seconds] [rounds] [connections] BINARY...
#   e.g. scripts/compare-wrk.sh 5 3 64 /tmp/ferrokms-before target/release/ferrokms
# AUDIT=off starts every server with the audit log disabled: the request path alone (the log's
# own cost is measured by scripts/compare-audit.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
conns=${3:-64}
shift 3 || true
[ $# -gt 0 ] || set -- target/release/ferrokms
wrk_lua=../shared/bench/wrk/post.lua
ceiling_bin=target/hot-path-ceiling/release/hot-path-ceiling
command -v wrk > /dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
[ -x "$ceiling_bin" ] || cargo build --release --quiet --manifest-path ../shared/bench/hot-path-ceiling/Cargo.toml \
    --target-dir target/hot-path-ceiling
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
"$ceiling_bin" 127.0.0.1:8399 > /dev/null 2>&1 &
ceiling_pid=$!
pids+=($ceiling_pid)
ports=()
server_pids=()
config=()
if [ "${AUDIT:-on}" = off ]; then
    printf '[audit]\nenabled = false\n' > "$work/audit-off.toml"
    config=(--config "$work/audit-off.toml")
fi
n=0
for bin in "$@"; do
    port=$((8320 + n))
    "$bin" serve --listen 127.0.0.1:$port --data-dir "$work/kms$n" "${config[@]}" --no-rate-limit > "$work/server$n.log" 2>&1 &
    pids+=($!)
    server_pids+=($!)
    ports+=("$port")
    n=$((n + 1))
done
for port in "${ports[@]}"; do
    until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.1; done
done
until curl -s -o /dev/null http://127.0.0.1:8399/; do sleep 0.1; done
threads=2
[ "$conns" -lt 2 ] && threads=1
# CPU time (user + system, clock ticks) of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_hz=$(getconf CLK_TCK)
# One wrk sample; besides wrk's figures, the server's own CPU time per request (µs), which a
# busy machine disturbs far less than the request rate.
sample() { # label url headers body pid
    local before after line reqs
    before=$(cpu_ticks "$5")
    line=$(WRK_BODY="$4" WRK_HEADERS="$3" wrk -t$threads -c"$conns" -d"${secs}s" -s "$wrk_lua" "$2" | grep '^RESULT')
    after=$(cpu_ticks "$5")
    reqs=$(sed -n 's/.* reqs=\([0-9]*\).*/\1/p' <<< "$line")
    awk -v l="$1" -v line="$line" -v t=$((after - before)) -v hz="$tick_hz" -v n="$reqs" \
        'BEGIN { sub(/^RESULT/, "", line); printf "%s%s cpu_us_per_req=%.1f\n", l, line, t * 1e6 / hz / (n > 0 ? n : 1) }'
}
declare -A key_ids
for port in "${ports[@]}"; do
    key_ids[$port]=$("$1" bench --endpoint 127.0.0.1:$port --print-presigned | sed -n '1s/.*"KeyId":"\([^"]*\)".*/\1/p')
done
for round in $(seq "$rounds"); do
    n=0
    for port in "${ports[@]}"; do
        out=$("$1" bench --endpoint 127.0.0.1:$port --key-id "${key_ids[$port]}" --print-presigned)
        sample "round=$round server=$n" "http://127.0.0.1:$port/" "$(sed -n 2p <<< "$out")" "$(sed -n 1p <<< "$out")" \
            "${server_pids[$n]}"
        n=$((n + 1))
    done
    # By default the ceiling gets what ../shared/bench/wrk/README.md sends it: a bare request with
    # only a Content-Type. CEILING_SAME=1 sends it the same presigned request, headers and body
    # (it reads only Host, but hyper parses and the kernel copies the whole of it).
    if [ "${CEILING_SAME:-}" = 1 ]; then
        sample "round=$round ceiling " http://127.0.0.1:8399/ "$(sed -n 2p <<< "$out")" "$(sed -n 1p <<< "$out")" "$ceiling_pid"
    else
        sample "round=$round ceiling " http://127.0.0.1:8399/ "Content-Type: application/json" '{"KeyId":"k"}' "$ceiling_pid"
    fi
done
