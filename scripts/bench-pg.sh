#!/usr/bin/env bash
# GenerateDataKey, hosted (durable before the answer) and not, on SQLite and on PostgreSQL with
# 1, 2 and 3 nodes sharing one database, alternating in each round (`ferrokms bench`, which signs
# every request anew). With n nodes, n bench processes run at once, one per node, each with
# connections/n connections; their rates are added. Everything shares this machine's cores:
# nodes, bench processes and PostgreSQL.
# PostgreSQL: FERROKMS_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test) names the
# server; a fresh database is made on it and dropped at the end.
# Usage: scripts/bench-pg.sh [seconds-per-run] [rounds]      (results: docs/benchmarks.md)
# FERROKMS_BENCH_WORKLOADS picks the workloads (default: hosted and plain GenerateDataKey, CreateKey).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
pg=${FERROKMS_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
bin=${FERROKMS_BENCH_BIN:-target/release/ferrokms}  # another build: for a quick check of the script
[ -n "${FERROKMS_BENCH_BIN:-}" ] || cargo build --release -p ferrokms --quiet
tmp=$(mktemp -d)
db="ferrokms_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
head=${pg%%\?*}
store="${head%/*}/$db"
pids=()
cleanup() {
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
psql "$pg" -qc "CREATE DATABASE $db"
export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
cat > "$tmp/bench.toml" <<TOML
[tencent]
signature_capacity = 40000000
signature_share_per_account = 40000000
[keys]
max_keys_per_account = 100000000
TOML
start() {  # start NAME PORT [--store URL]
    local name=$1 port=$2
    shift 2
    $bin serve --listen "127.0.0.1:$port" --data-dir "$tmp/$name" --config "$tmp/bench.toml" --no-rate-limit \
        "$@" > "$tmp/$name.log" 2>&1 &
    pids+=($!)
    until curl -sf "http://127.0.0.1:$port/readyz" > /dev/null; do sleep 0.1; done
}
start sqlite 8330
start pg1 8331 --store "$store"
for n in 2 3; do  # the other nodes get the first one's keyring
    mkdir -m 700 "$tmp/pg$n"
    cp -p "$tmp"/pg1/ferrokms.json "$tmp"/pg1/root*.key "$tmp/pg$n/"
    start "pg$n" $((8330 + n)) --store "$store"
done
echo "PostgreSQL store: ${store%%@*}@...; nodes on 8331-8333; SQLite node on 8330"

# run LABEL WORKLOAD CONNECTIONS PORT...: one bench per port at once, connections split; sum of rps
run() {
    local label=$1 w=$2 c=$3
    shift 3
    local n=$# each=$(( c / $# )) outs=() i=0 bp=()
    for port in "$@"; do
        $bin bench --endpoint "127.0.0.1:$port" --workload "$w" --connections "$each" --duration "$secs" \
            > "$tmp/out.$i" 2>&1 &
        bp+=($!)
        outs+=("$tmp/out.$i")
        i=$((i + 1))
    done
    wait "${bp[@]}"
    awk -v label="$label" -v w="$w" -v c="$c" -v n="$n" '
        /rps=/ { for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
                 rps += v["rps"]; err += v["errors"]; if (v["p99_ms"] > p99) p99 = v["p99_ms"] }
        END { printf "%-8s nodes=%d workload=%-25s connections=%d rps=%.0f errors=%d max_p99_ms=%s\n",
              label, n, w, c, rps, err, p99 }' "${outs[@]}"
}

for round in $(seq 1 "$rounds"); do
    for c in 16 64; do
        for w in ${FERROKMS_BENCH_WORKLOADS:-generate-data-key-hosted generate-data-key create-key}; do
            if [ $((round % 2)) = 1 ]; then order="sqlite pg1 pg2 pg3"; else order="pg3 pg2 pg1 sqlite"; fi
            for cfg in $order; do
                case $cfg in
                    sqlite) run "r$round sqlite" $w $c 8330 ;;
                    pg1) run "r$round pg" $w $c 8331 ;;
                    pg2) run "r$round pg" $w $c 8331 8332 ;;
                    pg3) run "r$round pg" $w $c 8331 8332 8333 ;;
                esac
            done
        done
    done
done
