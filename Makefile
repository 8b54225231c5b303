# omnichannel — `make run` serves on SQLite; `make test` runs every check CI runs.

CARGO_TARGET_DIR ?= /var/tmp/omnichannel-target
export CARGO_TARGET_DIR
# The PostgreSQL server the tests create their databases on.
OMNICHANNEL_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export OMNICHANNEL_TEST_POSTGRES_URL

.PHONY: run build test fmt-check lint layering e2e fmt fuzz bench bench-dispatch bench-bulk chaos

run:
	cargo run --release --bin omnichannel -- serve

build:
	cargo build --release --bin omnichannel

test: fmt-check lint layering e2e

fmt-check:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets --all-features -- -D warnings

# The domain knows neither the database nor the web framework: neither crate may be
# anywhere in its dependency tree (`cargo tree -i` would show the path to it).
layering:
	@tree=$$(cargo tree -p omnichannel-domain --all-features -e normal,build --prefix none) || exit 1; \
	for dep in diesel actix-web; do \
		if echo "$$tree" | grep -q "^$$dep v"; then \
			echo "omnichannel-domain depends on $$dep:"; \
			cargo tree -p omnichannel-domain --all-features -e normal,build -i $$dep; exit 1; \
		fi; \
	done; \
	echo "layering: omnichannel-domain depends on neither diesel nor actix-web"

# Every test of the workspace: domain, application and HTTP unit tests, and the
# end-to-end suite, which runs each test on SQLite and on PostgreSQL.
e2e:
	cargo nextest run --workspace --all-features --no-fail-fast

fmt:
	cargo fmt --all

# Fuzz the HTTP API from its OpenAPI document (schemathesis, from PyPI): no 5xx,
# and every answer as documented. Not part of `make test`.
fuzz:
	scripts/api-fuzz.sh

# The benchmark (docs/performance.md): the release binary as a child process
# on a fresh PostgreSQL database, then on a fresh SQLite file — accept beside
# pgbench, dispatch beside pg-boss (installed from npm under
# $(CARGO_TARGET_DIR)/bench/pgboss), bulk, flat cost over a million older
# rows, peak RSS. Prints one table and writes target/bench/report.json. Not
# part of `make test`; about eight minutes; BENCH_QUICK=1 for a fast check.
bench:
	scripts/bench.sh

# Accept 10 000 sends through the API, then time their dispatch through the
# `http` provider to a local sink, on SQLite and on PostgreSQL, beside the rate
# of posting the same messages to the sink directly. Not part of `make test`;
# results in docs/performance.md.
BENCH_CONCURRENCY ?= 64
bench-dispatch:
	cargo build --release -p omnichannel-bench
	$(CARGO_TARGET_DIR)/release/omnichannel-bench --backend sqlite --concurrency $(BENCH_CONCURRENCY)
	$(CARGO_TARGET_DIR)/release/omnichannel-bench --backend postgres --concurrency $(BENCH_CONCURRENCY) \
		--postgres $(OMNICHANNEL_TEST_POSTGRES_URL)

# One bulk send of 10 000 clients: time to its 202 and until all are sent; then
# one bulk booking of them. Not part of `make test`.
bench-bulk:
	cargo build --release -p omnichannel-bench
	$(CARGO_TARGET_DIR)/release/omnichannel-bench --bulk --backend sqlite
	$(CARGO_TARGET_DIR)/release/omnichannel-bench --bulk --backend postgres --postgres $(OMNICHANNEL_TEST_POSTGRES_URL)

# Faults under load (docs/reliability.md): three instances killed with SIGKILL
# under load, PostgreSQL restarted and its connections ended, 100 racing sends
# against one limit, SQLite killed mid-dispatch. Runs on a PostgreSQL cluster
# of its own (15/chaos on port 5442, created once with pg_createcluster, run as
# root), never the shared one; prints a report and fails on a broken promise.
# Not part of `make test`; about six minutes. CHAOS_ARGS='--seed N' repeats
# a run's random choices.
CHAOS_ARGS ?=
chaos:
	cargo build --release --bin omnichannel
	cargo build --release -p omnichannel-chaos
	$(CARGO_TARGET_DIR)/release/omnichannel-chaos --binary $(CARGO_TARGET_DIR)/release/omnichannel $(CHAOS_ARGS)
