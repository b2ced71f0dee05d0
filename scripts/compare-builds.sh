#!/usr/bin/env bash
# Builds (or configurations) of ferrokms against each other under `ferrokms bench` (a new
# signature per request), alternating server by server in every round of every workload and
# connection count, in one run (the machine is shared: compare ratios within a run).
# Usage: scripts/compare-builds.sh SECONDS ROUNDS "CONNECTIONS..." "WORKLOADS..." LABEL=BINARY[:off]...
#   e.g. scripts/compare-builds.sh 6 3 "16 64" "generate-data-key-hosted generate-data-key" \
#        before=/tmp/ferrokms-before after=target/release/ferrokms
# `:off` starts that server with the audit log disabled. Each server has its own data directory;
# the load comes from target/release/ferrokms (FERROKMS_BENCH_CLIENT for another), the same
# client for every server.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 5 ] || { sed -n '5,6p' "$0" >&2; exit 2; }
secs=$1 rounds=$2 conns=$3 workloads=$4
shift 4
client=${FERROKMS_BENCH_CLIENT:-target/release/ferrokms}
. scripts/bench-server.sh  # bench_config
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
labels=() ports=() n=0
for spec in "$@"; do
    label=${spec%%=*} rest=${spec#*=}
    bin=${rest%:off}
    if [ "$rest" = "$bin" ]; then bench_config "$work/$n.toml"; else bench_config "$work/$n.toml" off; fi
    port=$((8420 + n))
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/kms$n" --config "$work/$n.toml" --no-rate-limit \
        > "$work/server$n.log" 2>&1 &
    pids+=($!) labels+=("$label") ports+=("$port")
    n=$((n + 1))
done
for port in "${ports[@]}"; do
    until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.1; done
done
for round in $(seq 1 "$rounds"); do
    for w in $workloads; do
        for c in $conns; do
            for i in "${!ports[@]}"; do
                line=$("$client" bench --endpoint "127.0.0.1:${ports[$i]}" --workload "$w" --connections "$c" \
                    --duration "$secs" 2>&1 | grep 'rps=' || echo "failed")
                echo "r$round $w c=$c ${labels[$i]} $line"
            done
        done
    done
done
