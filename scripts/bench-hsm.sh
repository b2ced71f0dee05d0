#!/usr/bin/env bash
# The root key in a PKCS#11 token (SoftHSM2) against a root key file, one binary, in one run,
# alternating sample by sample:
# - start: seconds from `ferrokms serve` to /readyz (the HSM: module load, login, session pool);
# - cold path: `ferrokms bench --workload decrypt --keys N` against servers whose key cache holds
#   one key ([keys] cache_capacity = 1), so every request reads its key and unseals its version
#   (one HSM decryption each in HSM mode);
# - hot path: wrk with a presigned GenerateDataKey (scripts/compare-wrk.sh's method), keys cached
#   as usual: the HSM is not on this path at all.
# Usage: scripts/bench-hsm.sh [seconds] [rounds] [connections] [keys] [binary]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
conns=${3:-16}
keys=${4:-500}
bin=${5:-target/release/ferrokms}
command -v wrk > /dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v softhsm2-util > /dev/null || { echo "softhsm2-util is missing (apt-get install softhsm2)" >&2; exit 1; }
module=$(dpkg -L libsofthsm2 2>/dev/null | grep -m1 'libsofthsm2.so$' || true)
[ -n "$module" ] || { echo "libsofthsm2.so not found" >&2; exit 1; }
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
export FERROKMS_PKCS11_PIN=1234
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"
softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 > /dev/null
root_file='[root_key]
source = "file"'
root_hsm="[root_key]
source = \"pkcs11\"
module = \"$module\"
token_label = \"bench\"
key_label = \"bench-root\""
labels=(file-cold hsm-cold file-hot hsm-hot)
ports=(8370 8371 8372 8373)
for i in 0 1 2 3; do
    root=$root_file
    [[ ${labels[$i]} == hsm-* ]] && root=$root_hsm
    cache=""
    [[ ${labels[$i]} == *-cold ]] && cache=$'[keys]\ncache_capacity = 1'
    printf '%s\n%s\n' "$root" "$cache" > "$work/${labels[$i]}.toml"
done
# One key label per HSM server (two data directories, two roots on the one token).
sed -i 's/key_label = "bench-root"/key_label = "root-cold"/' "$work/hsm-cold.toml"
sed -i 's/key_label = "bench-root"/key_label = "root-hot"/' "$work/hsm-hot.toml"
start() { # i: starts server i; the seconds it took to be ready go to $work/ready$i
    local i=$1 t0
    t0=$(date +%s.%N)
    "$bin" serve --listen 127.0.0.1:${ports[$i]} --data-dir "$work/kms$i" --config "$work/${labels[$i]}.toml" \
        --no-rate-limit > "$work/server$i.log" 2>&1 &
    pids[$i]=$!
    until curl -sf "http://127.0.0.1:${ports[$i]}/readyz" > /dev/null; do sleep 0.01; done
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }' > "$work/ready$i"
}
for i in 0 1 2 3; do start "$i"; done
# Restart each to time a start over an existing data directory (what a node does every time).
for i in 0 1 2 3; do
    kill "${pids[$i]}"; wait "${pids[$i]}" 2>/dev/null || true
    start "$i"
    echo "start ${labels[$i]} ready_after_s=$(cat "$work/ready$i")"
done
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_hz=$(getconf CLK_TCK)
declare -A key_ids
for i in 2 3; do
    key_ids[$i]=$("$bin" bench --endpoint 127.0.0.1:${ports[$i]} --print-presigned | sed -n '1s/.*"KeyId":"\([^"]*\)".*/\1/p')
done
for round in $(seq "$rounds"); do
    for i in 0 1; do
        echo "round=$round ${labels[$i]} decrypt keys=$keys $("$bin" bench --endpoint 127.0.0.1:${ports[$i]} \
            --workload decrypt --keys "$keys" --duration "$secs" --connections "$conns" \
            --server-pid "${pids[$i]}" 2>&1 | tail -1)"
    done
    for i in 2 3; do
        port=${ports[$i]}
        out=$("$bin" bench --endpoint 127.0.0.1:$port --key-id "${key_ids[$i]}" --print-presigned)
        before=$(cpu_ticks "${pids[$i]}")
        line=$(WRK_BODY="$(sed -n 1p <<< "$out")" WRK_HEADERS="$(sed -n 2p <<< "$out")" \
            wrk -t2 -c64 -d"${secs}s" -s ../shared/bench/wrk/post.lua "http://127.0.0.1:$port/" | grep '^RESULT')
        after=$(cpu_ticks "${pids[$i]}")
        reqs=$(sed -n 's/.* reqs=\([0-9]*\).*/\1/p' <<< "$line")
        awk -v l="round=$round ${labels[$i]} wrk GenerateDataKey" -v line="$line" -v t=$((after - before)) \
            -v hz="$tick_hz" -v n="$reqs" \
            'BEGIN { sub(/^RESULT/, "", line); printf "%s%s cpu_us_per_req=%.1f\n", l, line, t * 1e6 / hz / (n > 0 ? n : 1) }'
    done
done
