#!/usr/bin/env bash
# `make bench`: builds the release binaries, installs what the comparison
# needs (pgbench, from PostgreSQL's client programs; pg-boss and pg from the
# npm registry, cached under $CARGO_TARGET_DIR/bench/pgboss) and runs
# omnichannel-bench-suite. BENCH_QUICK=1 for smaller counts; BENCH_ARGS for
# more options (e.g. BENCH_ARGS='--backends postgres').
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
: "${OMNICHANNEL_TEST_POSTGRES_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
PGBOSS_VERSION=10   # the last major release that runs on Node 20

# One invocation, so that both binaries share one feature resolution and a
# second run rebuilds nothing.
cargo build --release -p omnichannel-server -p omnichannel-bench --bin omnichannel --bin omnichannel-bench-suite

if ! command -v pgbench >/dev/null; then
    echo "bench: installing pgbench (postgresql-client)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y postgresql-client >&2
    else sudo apt-get install -y postgresql-client >&2; fi
fi

pgboss_args=()
if command -v npm >/dev/null && command -v node >/dev/null; then
    pgboss="$CARGO_TARGET_DIR/bench/pgboss"
    if [ ! -d "$pgboss/node_modules/pg-boss" ]; then
        echo "bench: installing pg-boss@$PGBOSS_VERSION into $pgboss" >&2
        mkdir -p "$pgboss"
        echo '{"private": true, "type": "module"}' > "$pgboss/package.json"
        (cd "$pgboss" && npm install --no-audit --no-fund --loglevel=error "pg-boss@$PGBOSS_VERSION" pg >&2)
    fi
    pgboss_args=(--pgboss-dir "$pgboss")
else
    echo "bench: node and npm not found, pg-boss is skipped" >&2
fi

mkdir -p target/bench
# shellcheck disable=SC2086
exec "$CARGO_TARGET_DIR/release/omnichannel-bench-suite" \
    --binary "$CARGO_TARGET_DIR/release/omnichannel" \
    --postgres "$OMNICHANNEL_TEST_POSTGRES_URL" \
    --out target/bench/report.json \
    "${pgboss_args[@]}" ${BENCH_ARGS:-}
