#!/usr/bin/env bash
# Benchmarks a release build of ferrokms with two load generators, each alternating with the
# bare hot-path ceiling of ../shared/bench/hot-path-ceiling in the same run:
#   - wrk (Debian package `wrk`) replaying one presigned TC3 GenerateDataKey request through
#     ../shared/bench/wrk/post.lua: it costs little CPU, so it measures the server (and, since
#     one signature is resent, the replay memory's "identical resend" path);
#   - `ferrokms bench`, which signs every request anew (the "new signature" path) and so takes
#     a large share of the same two cores itself: its ratios are compressed toward 1.
# The other workloads and the Alibaba dialect use `ferrokms bench` only: an ACS3 request carries
# a signed nonce, so it cannot be presigned once and replayed. Last, scripts/bench-asymmetric.sh
# (its own server): asymmetric, MAC and post-quantum requests against bare loops of their math.
# Usage: scripts/bench.sh [seconds-per-run] [rounds]     (results: docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
cargo build --release -p ferrokms --quiet
ceiling_src=../shared/bench/hot-path-ceiling/Cargo.toml
wrk_lua=../shared/bench/wrk/post.lua
if [ -f "$ceiling_src" ]; then
    cargo build --release --quiet --manifest-path "$ceiling_src" --target-dir target/hot-path-ceiling
fi
have_wrk=""
if command -v wrk > /dev/null && [ -f "$wrk_lua" ]; then
    have_wrk=1
else
    echo "wrk or $wrk_lua missing (apt-get install wrk): the wrk measurements are skipped" >&2
fi
port=8310
. scripts/bench-server.sh
start_bench_server $port
ceiling=""
if [ -x target/hot-path-ceiling/release/hot-path-ceiling ]; then
    target/hot-path-ceiling/release/hot-path-ceiling 127.0.0.1:8399 > /dev/null 2>&1 &
    ceiling=$!
    bench_pids=$ceiling
fi
echo "idle RSS of ferrokms: $(awk '/VmRSS/ {print $2, $3}' /proc/$kms/status)"
bench() { target/release/ferrokms bench --duration "$secs" "$@"; }

if [ -n "$have_wrk" ]; then
    # One CMK for every presigned request; a request is signed afresh before each run (valid 300 s).
    key_id=$(target/release/ferrokms bench --endpoint 127.0.0.1:$port --print-presigned |
        sed -n '1s/.*"KeyId":"\([^"]*\)".*/\1/p')
    presign() {
        local out
        out=$(target/release/ferrokms bench --endpoint 127.0.0.1:$port --key-id "$key_id" --print-presigned)
        body=$(sed -n 1p <<< "$out")
        headers=$(sed -n 2p <<< "$out")
    }
    presign
    # One request first: a run whose requests fail measures errors, not work.
    curl_args=(-s -X POST --data-binary "$body")
    IFS='|' read -ra hs <<< "$headers"
    for h in "${hs[@]}"; do curl_args+=(-H "$h"); done
    check=$(curl "${curl_args[@]}" http://127.0.0.1:$port/)
    if ! grep -q '"Plaintext"' <<< "$check"; then
        echo "the presigned request fails: $check" >&2
        exit 1
    fi
    wrk_run() { # label connections url headers
        local threads=2
        [ "$2" -lt 2 ] && threads=1
        WRK_BODY="$body" WRK_HEADERS="$4" wrk -t$threads -c"$2" -d"${secs}s" -s "$wrk_lua" "$3" |
            grep '^RESULT' | sed "s/^RESULT/wrk $1 connections=$2/"
    }
    for c in 1 16 64; do
        for round in $(seq "$rounds"); do
            presign
            wrk_run "ferrokms round=$round" $c http://127.0.0.1:$port/ "$headers"
            if [ -n "$ceiling" ]; then
                wrk_run "ceiling  round=$round" $c http://127.0.0.1:8399/ "Content-Type: application/json"
            fi
        done
    done
fi

for c in 1 16 64; do
    for round in $(seq "$rounds"); do
        bench --endpoint 127.0.0.1:$port --workload generate-data-key --connections $c | sed "s/^/ferrokms round=$round /"
        if [ -n "$ceiling" ]; then
            bench --endpoint 127.0.0.1:8399 --key-id 11111111-2222-3333-4444-555555555555 \
                --workload generate-data-key --connections $c | sed "s/^/ceiling  round=$round /"
        fi
    done
done
for w in generate-data-key-rsa generate-data-key-hosted encrypt decrypt; do
    for c in 1 16 64; do
        bench --endpoint 127.0.0.1:$port --workload $w --connections $c | sed "s/^/ferrokms /"
    done
done
for c in 1 16 64; do
    for round in $(seq "$rounds"); do
        bench --endpoint 127.0.0.1:$port --workload generate-data-key --connections $c | sed "s/^/tencent  round=$round /"
        bench --endpoint 127.0.0.1:$port --workload ali-generate-data-key --connections $c | sed "s/^/alibaba  round=$round /"
    done
done
for pair in "ali-export-rsa local-rsa-oaep" "ali-export-sm2 local-sm2"; do
    set -- $pair
    for c in 1 16 64; do
        bench --endpoint 127.0.0.1:$port --workload "$1" --connections $c | sed "s/^/ferrokms /"
    done
    for t in 1 2; do
        bench --workload "$2" --connections $t | sed "s/^/bare loop, threads=$t: /"
    done
done
echo "RSS of ferrokms after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$kms/status)"
# Asymmetric, MAC and post-quantum keys against bare loops of their primitives (own server).
scripts/bench-asymmetric.sh "$secs" "$rounds"
