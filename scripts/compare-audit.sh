#!/usr/bin/env bash
# GenerateDataKey with the audit log on (the default: every record fdatasynced before its answer)
# against off, one binary, two servers, alternating sample by sample in one run: wrk with the
# presigned request (scripts/compare-wrk.sh's method, with the server's CPU time per request) and
# `ferrokms bench` (every request signed anew).
# Usage: scripts/compare-audit.sh [seconds] [rounds] [connections] [binary]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
conns=${3:-64}
bin=${4:-target/release/ferrokms}
wrk_lua=../shared/bench/wrk/post.lua
command -v wrk > /dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
printf '[audit]\nenabled = false\n' > "$work/off.toml"
printf '' > "$work/on.toml"
labels=(on off)
ports=(8340 8341)
for i in 0 1; do
    "$bin" serve --listen 127.0.0.1:${ports[$i]} --data-dir "$work/kms$i" --config "$work/${labels[$i]}.toml" \
        --no-rate-limit > "$work/server$i.log" 2>&1 &
    pids+=($!)
done
for port in "${ports[@]}"; do
    until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.1; done
done
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_hz=$(getconf CLK_TCK)
declare -A key_ids
for port in "${ports[@]}"; do
    key_ids[$port]=$("$bin" bench --endpoint 127.0.0.1:$port --print-presigned | sed -n '1s/.*"KeyId":"\([^"]*\)".*/\1/p')
done
for round in $(seq "$rounds"); do
    for i in 0 1; do
        port=${ports[$i]}
        out=$("$bin" bench --endpoint 127.0.0.1:$port --key-id "${key_ids[$port]}" --print-presigned)
        before=$(cpu_ticks "${pids[$i]}")
        line=$(WRK_BODY="$(sed -n 1p <<< "$out")" WRK_HEADERS="$(sed -n 2p <<< "$out")" \
            wrk -t2 -c"$conns" -d"${secs}s" -s "$wrk_lua" "http://127.0.0.1:$port/" | grep '^RESULT')
        after=$(cpu_ticks "${pids[$i]}")
        reqs=$(sed -n 's/.* reqs=\([0-9]*\).*/\1/p' <<< "$line")
        awk -v l="round=$round audit=${labels[$i]} wrk" -v line="$line" -v t=$((after - before)) -v hz="$tick_hz" \
            -v n="$reqs" 'BEGIN { sub(/^RESULT/, "", line); printf "%s%s cpu_us_per_req=%.1f\n", l, line, t * 1e6 / hz / (n > 0 ? n : 1) }'
    done
    for i in 0 1; do
        echo "round=$round audit=${labels[$i]} bench $("$bin" bench --endpoint 127.0.0.1:${ports[$i]} --duration "$secs" \
            --connections "$conns" --server-pid "${pids[$i]}" 2>&1 | tail -1)"
    done
done
echo "audit records written: $(cat "$work"/kms0/audit/audit-*.jsonl | wc -l)"
