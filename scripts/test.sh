#!/usr/bin/env bash
# Runs every test of ferrokms on a fresh machine: formatting and lints, the Rust unit and
# known-answer tests, then the integration suites that start the real server and drive it with
# the official Tencent Cloud SDKs (Python, Node.js), tccli, openssl and gmssl, and last every fuzz
# target for 30 s (scripts/fuzz.sh; FERROKMS_SKIP_FUZZ=1 skips that for a quick local run).
# Everything it needs (the Python venv, the Node.js packages) it installs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "SoftHSM2 for the PKCS#11 root key tests (a fresh token directory per run)"
if ! command -v softhsm2-util >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq softhsm2
fi
FERROKMS_TEST_PKCS11_MODULE=$(dpkg -L libsofthsm2 2>/dev/null | grep -m1 'libsofthsm2.so$' || true)
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
    [ -n "$FERROKMS_TEST_PKCS11_MODULE" ] || { [ -f "$m" ] && FERROKMS_TEST_PKCS11_MODULE=$m; }
done
[ -n "$FERROKMS_TEST_PKCS11_MODULE" ] || { echo "libsofthsm2.so not found" >&2; exit 1; }
softhsm_dir="$PWD/target/softhsm"
rm -rf "$softhsm_dir" && mkdir -p "$softhsm_dir/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$softhsm_dir/tokens" > "$softhsm_dir/softhsm2.conf"
export SOFTHSM2_CONF="$softhsm_dir/softhsm2.conf" FERROKMS_TEST_PKCS11_MODULE

step "PostgreSQL for the store tests (FERROKMS_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test)"
# The PostgreSQL store's conformance suite and the SDK suite's PostgreSQL pass need a server
# with trust (or URL-given) authentication. FERROKMS_TEST_PG_URL=none switches both off on
# purpose. When none is named and none answers at the default, a private one is started in a
# temporary directory for this run (and removed at the end), so the PostgreSQL half of the suite
# never silently skips. Every test makes fresh databases on it and drops them.
pg_bin() {
    command -v "$1" 2>/dev/null && return
    ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1 || true
}
start_private_pg() {
    local initdb pg_ctl port as=()
    initdb=$(pg_bin initdb) pg_ctl=$(pg_bin pg_ctl)
    [ -n "$initdb" ] && [ -n "$pg_ctl" ] || { echo "no PostgreSQL server binaries (initdb, pg_ctl): install postgresql" >&2; exit 1; }
    pg_tmp=$(mktemp -d /tmp/ferrokms-test-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then  # initdb refuses root
        as=(runuser -u postgres --)
        id postgres >/dev/null 2>&1 || as=(runuser -u nobody --)
        chown "${as[2]}" "$pg_tmp"
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "${as[@]}" "$initdb" -D "$pg_tmp/data" -A trust -U postgres --no-sync >/dev/null
    "${as[@]}" "$pg_ctl" -D "$pg_tmp/data" -l "$pg_tmp/log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_tmp -c max_connections=300" start >/dev/null
    pg_stop=("${as[@]}" "$pg_ctl" -D "$pg_tmp/data" -m immediate -w stop)
    trap '"${pg_stop[@]}" >/dev/null 2>&1 || true; rm -rf "$pg_tmp"' EXIT
    export FERROKMS_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "started a private PostgreSQL for this run: $FERROKMS_TEST_PG_URL ($pg_tmp)"
}
if [ "${FERROKMS_TEST_PG_URL:-}" = none ]; then
    echo "skipped: FERROKMS_TEST_PG_URL=none"
elif [ -n "${FERROKMS_TEST_PG_URL:-}" ]; then
    pg_isready -d "$FERROKMS_TEST_PG_URL" || { echo "FERROKMS_TEST_PG_URL=$FERROKMS_TEST_PG_URL does not answer" >&2; exit 1; }
elif pg_isready -q -d postgres://postgres@127.0.0.1:5432/test 2>/dev/null; then
    echo "using the PostgreSQL at 127.0.0.1:5432 (database test)"
else
    start_private_pg
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "build"
cargo build --workspace --quiet

step "Rust unit and known-answer tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --quiet
fi

step "Python venv with the official SDKs (tests/requirements.txt)"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$want" > "$stamp"
fi

step "Node.js SDK (tests/node)"
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error

step "integration tests: the real server driven by the official clients"
export FERROKMS_BIN="$PWD/target/debug/ferrokms"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
.venv/bin/python -m pytest tests/sdk -q -n 2 -p no:cacheprovider "$@"

step "integration tests on the PostgreSQL store (a fresh database per server)"
if [ "${FERROKMS_TEST_PG_URL:-}" = none ]; then
    echo "skipped: FERROKMS_TEST_PG_URL=none"
else
    FERROKMS_TEST_STORE=postgres .venv/bin/python -m pytest tests/sdk -q -n 2 -p no:cacheprovider -k 'not hsm and not test_pg_faults' "$@"
fi

step "fuzz targets, ${FERROKMS_FUZZ_SECONDS:-30} s each (scripts/fuzz.sh)"
if [ "${FERROKMS_SKIP_FUZZ:-}" = 1 ]; then
    echo "skipped: FERROKMS_SKIP_FUZZ=1"
else
    ./scripts/fuzz.sh "${FERROKMS_FUZZ_SECONDS:-30}"
fi
