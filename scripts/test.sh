#!/usr/bin/env bash
# Runs every test. With PostgreSQL and Redis reachable (always under CI), the
# whole suite runs on them, then the `embedded` tests run again on the
# embedded default (SQLite + kombu filesystem broker). Without them (a
# laptop), the whole suite runs on the embedded default, with a warning.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=".venv/bin/python -m pytest"
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
RD_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

services_up() {
  .venv/bin/python - "$PG_URL" "$RD_URL" <<'PY'
import socket, sys
from urllib.parse import urlparse
for url in sys.argv[1:]:
    u = urlparse(url)
    try:
        socket.create_connection((u.hostname, u.port), timeout=2).close()
    except OSError:
        sys.exit(1)
PY
}

run() {  # pytest exit 5 ("no tests collected") is a failure here too
  "$@"; local rc=$?
  [ $rc -eq 0 ] || { echo "FAILED: $*" >&2; exit $rc; }
}

EMBED_VAR=$(mktemp -d /tmp/vision-embedded-XXXX)
trap 'rm -rf "$EMBED_VAR"' EXIT
if services_up; then
  echo "== Full suite on PostgreSQL ($PG_URL) and Redis ($RD_URL) =="
  run env DATABASE_URL="$PG_URL" REDIS_URL="$RD_URL" $PYTEST "$@"
  echo "== Embedded default (SQLite + filesystem broker): tests marked 'embedded' =="
  run env -u DATABASE_URL -u REDIS_URL VAR_DIR="$EMBED_VAR" $PYTEST -m embedded "$@"
else
  if [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL or Redis is not reachable ($PG_URL, $RD_URL) and CI=true: failing." >&2
    exit 1
  fi
  echo "WARNING: PostgreSQL/Redis not reachable; running the whole suite on the embedded default only." >&2
  run env -u DATABASE_URL -u REDIS_URL VAR_DIR="$EMBED_VAR" $PYTEST "$@"
fi
