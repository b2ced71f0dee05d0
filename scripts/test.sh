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
# with trust (or URL-given) authentication; they fail without one. FERROKMS_TEST_PG_URL=none
# switches both off on purpose.
if [ "${FERROKMS_TEST_PG_URL:-}" = none ]; then
    echo "skipped: FERROKMS_TEST_PG_URL=none"
elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -d "${FERROKMS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}" \
        || echo "warning: no PostgreSQL answers; the PostgreSQL tests will fail" >&2
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
    FERROKMS_TEST_STORE=postgres .venv/bin/python -m pytest tests/sdk -q -n 2 -p no:cacheprovider -k 'not hsm' "$@"
fi

step "fuzz targets, ${FERROKMS_FUZZ_SECONDS:-30} s each (scripts/fuzz.sh)"
if [ "${FERROKMS_SKIP_FUZZ:-}" = 1 ]; then
    echo "skipped: FERROKMS_SKIP_FUZZ=1"
else
    ./scripts/fuzz.sh "${FERROKMS_FUZZ_SECONDS:-30}"
fi
