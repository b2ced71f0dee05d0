#!/usr/bin/env bash
# Asymmetric, MAC and post-quantum request types against a bare loop of the same primitive
# (docs/benchmarks.md, "Asymmetric, MAC and post-quantum keys"). For each connection count
# (1, 16, 64) and round, every pair runs back to back, alternating: the server workload through
# `ferrokms bench` (signed requests, each answer checked), then its `local-*` loop through the
# same crypto code on the same cores. The loop runs 1 thread against 1 connection (one request
# at a time keeps at most one core busy with the math) and 2 threads (both cores) against 16 and
# 64 connections, where the server's two worker threads are saturated. Plain GenerateDataKey runs
# in the same rounds, the yardstick of the cheap request types.
# Prints every sample, then a table of medians over the rounds: rate ratio = bare loop rate /
# server rate (1.0: the request costs no more than its math; goal <= 1.3), the same in CPU time
# (the server's CPU per request, from /proc, over the loop's CPU per operation: the server's own
# cost, without the load generator's share of the cores), and for the cheap ones their rate /
# GenerateDataKey's (goal >= 0.5).
# Usage: scripts/bench-asymmetric.sh [seconds-per-sample] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
cargo build --release -p ferrokms --quiet
port=8311
. scripts/bench-server.sh
start_bench_server $port
samples="$data/samples.txt"
pairs="rsa-decrypt:local-rsa-decrypt sm2-decrypt:local-sm2-decrypt ecdsa-sign:local-ecdsa-sign
ecdsa-verify:local-ecdsa-verify sm2-sign:local-sm2-sign rsa-sign:local-rsa-sign
mldsa-sign:local-mldsa-sign mlkem-decrypt:local-mlkem-decrypt ali-generate-mac:local-hmac"
sample() { # kind pair connections round -- bench arguments
    local kind=$1 pair=$2 c=$3 round=$4
    shift 5
    local line
    line=$(target/release/ferrokms bench --duration "$secs" "$@")
    echo "kind=$kind pair=$pair c=$c round=$round $line" | tee -a "$samples"
}
for c in 1 16 64; do
    threads=$((c < 2 ? 1 : 2))
    for round in $(seq "$rounds"); do
        sample gdk generate-data-key $c "$round" -- --endpoint 127.0.0.1:$port --server-pid $kms \
            --workload generate-data-key --connections $c
        for pair in $pairs; do
            server=${pair%%:*} bare=${pair##*:}
            sample server "$server" $c "$round" -- --endpoint 127.0.0.1:$port --server-pid $kms \
                --workload "$server" --connections $c
            sample bare "$server" $c "$round" -- --workload "$bare" --connections $threads
        done
    done
done
python3 - "$samples" <<'PY'
import re, statistics, sys
from collections import defaultdict
rows = defaultdict(dict)  # (pair, c) -> round -> kind -> fields
for line in open(sys.argv[1]):
    f = dict(re.findall(r"(\w+)=(\S+)", line))
    rows[(f["pair"], int(f["c"]))].setdefault(f["round"], {})[f["kind"]] = f
med = statistics.median
cheap = {"ecdsa-verify", "ali-generate-mac"}
print("\n| request | conns | server req/s | bare ops/s (threads) | rate ratio | server CPU µs/req | "
      "bare CPU µs/op | CPU ratio | server p50 / p99 ms | / GenerateDataKey | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
def m(rounds, kind, field):
    return med(float(r[kind][field]) for r in rounds.values())
order = list(dict.fromkeys(pair for pair, _ in rows))  # the script's order
for (pair, c), rounds in sorted(rows.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
    if pair == "generate-data-key":
        continue
    ratio = med(float(r["bare"]["rps"]) / max(float(r["server"]["rps"]), 1) for r in rounds.values())
    cpu = med(float(r["server"]["cpu_us_per_op"]) / float(r["bare"]["cpu_us_per_op"]) for r in rounds.values())
    gdk = rows[("generate-data-key", c)]
    share = med(float(r["server"]["rps"]) / max(float(gdk[k]["gdk"]["rps"]), 1) for k, r in rounds.items())
    share = f"{share:.2f}" if pair in cheap else ""
    errors = sum(int(r["server"]["errors"]) + int(r["bare"]["errors"]) for r in rounds.values())
    threads = next(iter(rounds.values()))["bare"]["connections"]
    print(f"| {pair} | {c} | {m(rounds, 'server', 'rps'):,.0f} | {m(rounds, 'bare', 'rps'):,.0f} ({threads}) | "
          f"{ratio:.2f} | {m(rounds, 'server', 'cpu_us_per_op'):.1f} | {m(rounds, 'bare', 'cpu_us_per_op'):.1f} | "
          f"{cpu:.2f} | {m(rounds, 'server', 'p50_ms'):.2f} / {m(rounds, 'server', 'p99_ms'):.2f} | "
          f"{share} | {errors} |")
for c in (1, 16, 64):
    g = rows[("generate-data-key", c)]
    print(f"| generate-data-key | {c} | {m(g, 'gdk', 'rps'):,.0f} | | | {m(g, 'gdk', 'cpu_us_per_op'):.1f} | | | "
          f"{m(g, 'gdk', 'p50_ms'):.2f} / {m(g, 'gdk', 'p99_ms'):.2f} | 1.00 | |")
PY
