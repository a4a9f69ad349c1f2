#!/usr/bin/env bash
# Web server (gunicorn) + one Celery worker, on whatever settings the
# environment selects (embedded default without DATABASE_URL/REDIS_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/log
$BIN/celery -A workers.celery worker --loglevel=INFO --concurrency="${WORKER_CONCURRENCY:-1}" \
  --hostname="worker@%h" >var/log/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM
echo "Celery worker started (pid $WORKER, log: var/log/worker.log)"
echo "Open http://${HOST}:${PORT}/  (log in with the admin account; Ctrl+C stops both)"
$BIN/gunicorn webapp.wsgi --bind "${HOST}:${PORT}" --workers 2 --threads 4 --timeout 120 --access-logfile -
