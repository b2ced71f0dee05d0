#!/usr/bin/env bash
# Benchmarks ferrokms with its own load tool (`ferrokms bench`: TC3-signed requests over keep-alive
# connections) against a release build, and, in the same run and alternating, the bare
# hot-path ceiling server of ../shared/bench/hot-path-ceiling when it is there.
# Usage: scripts/bench.sh [seconds-per-run]     (results: docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
cargo build --release -p ferrokms --quiet
ceiling_src=../shared/bench/hot-path-ceiling/Cargo.toml
if [ -f "$ceiling_src" ]; then
    cargo build --release --quiet --manifest-path "$ceiling_src" --target-dir target/hot-path-ceiling
fi
data=$(mktemp -d)
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
target/release/ferrokms serve --listen 127.0.0.1:8310 --data-dir "$data/kms" --no-rate-limit > "$data/server.log" 2>&1 &
kms=$!
ceiling=""
if [ -x target/hot-path-ceiling/release/hot-path-ceiling ]; then
    target/hot-path-ceiling/release/hot-path-ceiling 127.0.0.1:8399 > /dev/null 2>&1 &
    ceiling=$!
fi
trap 'kill $kms $ceiling 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf http://127.0.0.1:8310/healthz > /dev/null; do sleep 0.1; done
echo "idle RSS of ferrokms: $(awk '/VmRSS/ {print $2, $3}' /proc/$kms/status)"
bench() { target/release/ferrokms bench --duration "$secs" "$@"; }
for c in 1 16 64; do
    for round in 1 2; do
        bench --endpoint 127.0.0.1:8310 --workload generate-data-key --connections $c | sed "s/^/ferrokms round=$round /"
        if [ -n "$ceiling" ]; then
            bench --endpoint 127.0.0.1:8399 --key-id 11111111-2222-3333-4444-555555555555 \
                --workload generate-data-key --connections $c | sed "s/^/ceiling  round=$round /"
        fi
    done
done
for w in generate-data-key-rsa generate-data-key-hosted encrypt decrypt; do
    for c in 1 16 64; do
        bench --endpoint 127.0.0.1:8310 --workload $w --connections $c | sed "s/^/ferrokms /"
    done
done
for c in 1 16 64; do
    for round in 1 2; do
        bench --endpoint 127.0.0.1:8310 --workload generate-data-key --connections $c | sed "s/^/tencent  round=$round /"
        bench --endpoint 127.0.0.1:8310 --workload ali-generate-data-key --connections $c | sed "s/^/alibaba  round=$round /"
    done
done
for pair in "ali-export-rsa local-rsa-oaep" "ali-export-sm2 local-sm2"; do
    set -- $pair
    for c in 1 16 64; do
        bench --endpoint 127.0.0.1:8310 --workload "$1" --connections $c | sed "s/^/ferrokms /"
    done
    for t in 1 2; do
        bench --workload "$2" --connections $t | sed "s/^/bare loop, threads=$t: /"
    done
done
echo "RSS of ferrokms after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$kms/status)"
