#!/usr/bin/env bash
# Property-based fuzzing of the HTTP API from its own OpenAPI document: the
# service on a fresh SQLite file, schemathesis (from PyPI) against both APIs.
# Fails on any 5xx or on an answer that contradicts the document.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/omnichannel-target}"
PORT="${FUZZ_PORT:-18080}"
EXAMPLES="${FUZZ_EXAMPLES:-30}"
PASSWORD="fuzzing-operator-password"

command -v schemathesis >/dev/null || python3 -m pip install --quiet schemathesis
cargo build --release --bin omnichannel

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && OMNICHANNEL_ADMIN_PASSWORD="$PASSWORD" OMNICHANNEL_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
  exec "$CARGO_TARGET_DIR/release/omnichannel" serve >"$work/server.log" 2>&1) &
server=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 50); do curl -sf "$base/health/ready" >/dev/null && break; sleep 0.2; done

token=$(curl -sf -X POST "$base/api/admin/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
key=$(curl -sf -X POST "$base/api/admin/v1/api-keys" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"name":"fuzz"}')
field() { echo "$key" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# The operator's own session and accounts are left alone so the token stays valid.
schemathesis run "$base/api/openapi.json" --checks "$checks" --max-examples "$EXAMPLES" \
  -H "Authorization: Bearer $token" \
  --include-path-regex '^/api/admin/' --exclude-path-regex 'auth/(password|logout|refresh)|/admins'
schemathesis run "$base/api/openapi.json" --checks "$checks" --max-examples "$EXAMPLES" \
  -H "X-Api-Key: $(field api_key)" -H "X-Api-Secret: $(field secret_api_key)" \
  --include-path-regex '^/api/public/'
# A request that failed on our side is logged as an error by our crates.
if grep -q 'ERROR omnichannel' "$work/server.log"; then
  echo "the server logged errors:"; grep 'ERROR omnichannel' "$work/server.log"; exit 1
fi
