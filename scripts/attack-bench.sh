#!/usr/bin/env bash
# A good client's latency alone and under attack, against a release build on loopback.
#   good client: wrk, 8 connections, one presigned TC3 GenerateDataKey resent (its p99 is the figure)
#   flood:       wrk, 16 connections, one TC3 request with a wrong signature, as fast as it goes
#   slowloris:   scripts/slowloris.py, 300 connections dribbling a request head, never ending it
# Each condition (alone, flood, slowloris, both) runs `rounds` times, interleaved; the attackers
# start a second before the good client and end after it. Everything is bounded in time and
# stops by itself. The attackers run on the same two cores as the server: the CPU they use is
# measured and printed, since it is CPU the server does not get.
# Usage: scripts/attack-bench.sh [seconds-per-run] [rounds]     (results: docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
rounds=${2:-3}
wrk_lua=../shared/bench/wrk/post.lua
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
[ -f "$wrk_lua" ] || { echo "$wrk_lua is missing" >&2; exit 1; }
cargo build --release -p ferrokms --quiet
data=$(mktemp -d)
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
port=8311
target/release/ferrokms serve --listen 127.0.0.1:$port --data-dir "$data/kms" --no-rate-limit \
    > "$data/server.log" 2>&1 &
kms=$!
trap 'kill $kms 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf http://127.0.0.1:$port/healthz > /dev/null; do sleep 0.1; done
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

key_id=$(target/release/ferrokms bench --endpoint 127.0.0.1:$port --print-presigned |
    sed -n '1s/.*"KeyId":"\([^"]*\)".*/\1/p')
presign() {
    local out
    out=$(target/release/ferrokms bench --endpoint 127.0.0.1:$port --key-id "$key_id" --print-presigned)
    body=$(sed -n 1p <<< "$out")
    headers=$(sed -n 2p <<< "$out")
    # The same request with the last hex digit of its signature changed.
    local sig
    sig=$(grep -o 'Signature=[0-9a-f]*' <<< "$headers")
    sig=${sig#Signature=}
    local flipped=0
    [ "${sig: -1}" = 0 ] && flipped=1
    bad_headers=${headers/Signature=$sig/Signature=${sig%?}$flipped}
}

run() { # condition round
    local cond=$1 round=$2 flood="" loris="" kms_before kms_after
    presign
    if [[ $cond == flood || $cond == both ]]; then
        WRK_BODY="$body" WRK_HEADERS="$bad_headers" /usr/bin/time -f "flood_cpu_s=%U+%S" -o "$data/flood.time" \
            wrk -t1 -c16 -d"$((secs + 2))s" -s "$wrk_lua" http://127.0.0.1:$port/ > "$data/flood.out" 2>&1 &
        flood=$!
    fi
    if [[ $cond == slowloris || $cond == both ]]; then
        /usr/bin/time -f "slowloris_cpu_s=%U+%S" -o "$data/loris.time" \
            python3 scripts/slowloris.py 127.0.0.1:$port 300 "$((secs + 4))" 1 > "$data/loris.out" 2>&1 &
        loris=$!
    fi
    [ -n "$flood$loris" ] && sleep 1
    kms_before=$(cpu_of $kms)
    local good
    good=$(WRK_BODY="$body" WRK_HEADERS="$headers" /usr/bin/time -f "good_cpu_s=%U+%S" -o "$data/good.time" \
        wrk -t1 -c8 -d"${secs}s" -s "$wrk_lua" http://127.0.0.1:$port/ | grep '^RESULT')
    kms_after=$(cpu_of $kms)
    [ -n "$flood" ] && wait $flood
    [ -n "$loris" ] && wait $loris
    local extra="server_cpu_s=$(awk -v a="$kms_before" -v b="$kms_after" -v t="$ticks" 'BEGIN {printf "%.1f", (b - a) / t}')"
    extra="$extra $(cat "$data/good.time")"
    if [ -n "$flood" ]; then
        extra="$extra $(cat "$data/flood.time") flood_$(grep '^RESULT' "$data/flood.out" | sed 's/^RESULT //; s/ p50.*reqs=/ reqs=/; s/ secs=.*non2xx=/ non2xx=/; s/ connect=.*//')"
    fi
    if [ -n "$loris" ]; then
        extra="$extra $(cat "$data/loris.time") $(sed 's/^SLOWLORIS //' "$data/loris.out")"
    fi
    echo "attack condition=$cond round=$round ${good#RESULT } | $extra"
}

for round in $(seq "$rounds"); do
    for cond in alone flood slowloris both; do
        run $cond "$round"
    done
done
