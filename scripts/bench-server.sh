# Sourced by the benchmark scripts.

# bench_config FILE [off] writes the bench config to FILE (with `off`: the audit log disabled).
bench_config() {
    # `ferrokms bench` sends a new signature with every request, and each is remembered for the
    # clock-skew window (5 minutes and up to 75 s more): a run sends more than the default
    # 4 million per account, so the bench config raises the share (about 20 bytes each);
    # likewise the Alibaba nonces, each kept for 30 minutes (default share: 1 million per account).
    cat > "$1" <<TOML
[tencent]
signature_capacity = 40000000
signature_share_per_account = 40000000

[alibaba]
nonce_capacity = 40000000
nonce_share_per_account = 40000000
TOML
    if [ "${2:-on}" = off ]; then
        printf '\n[audit]\nenabled = false\n' >> "$1"
    fi
}

# start_bench_server PORT starts the release build of ferrokms on 127.0.0.1:PORT with a fresh
# data directory, rate limits off and the bench config, and waits until it answers. Sets $data
# (the temp directory) and $kms (its pid), and an EXIT trap that stops it and any pids listed in
# $bench_pids, and removes the directory. AUDIT=off starts it with the audit log disabled (to
# measure the request path without the log's fdatasync).
start_bench_server() {
    data=$(mktemp -d)
    export FERROKMS_ACCESS_KEY_ID=AKIDbench00000000000000000000000001
    export FERROKMS_ACCESS_KEY_SECRET=benchsecret000000000000000000001
    bench_config "$data/bench.toml" "${AUDIT:-on}"
    target/release/ferrokms serve --listen "127.0.0.1:$1" --data-dir "$data/kms" --config "$data/bench.toml" \
        --no-rate-limit > "$data/server.log" 2>&1 &
    kms=$!
    bench_pids=${bench_pids:-}
    trap 'kill $kms $bench_pids 2>/dev/null; rm -rf "$data"' EXIT
    until curl -sf "http://127.0.0.1:$1/healthz" > /dev/null; do sleep 0.1; done
}
