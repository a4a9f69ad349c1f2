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
stop_worker() {
  # A signal sent to the whole process group (Ctrl+C, kill -- -PGID) also hits the worker's pool
  # child, and Celery's warm shutdown can then wait for it forever: give it 10 s, then kill.
  kill -TERM "$WORKER" 2>/dev/null || return 0
  for _ in $(seq 20); do kill -0 "$WORKER" 2>/dev/null || return 0; sleep 0.5; done
  echo "The Celery worker did not stop within 10 s; killing it."
  pkill -KILL -P "$WORKER" 2>/dev/null; kill -KILL "$WORKER" 2>/dev/null; true
}
trap stop_worker EXIT INT TERM
echo "Celery worker started (pid $WORKER, log: var/log/worker.log)"
echo "Open http://${HOST}:${PORT}/  (log in with the admin account; Ctrl+C stops both)"
$BIN/gunicorn webapp.wsgi --bind "${HOST}:${PORT}" --control-socket var/gunicorn.ctl --workers 2 --threads 4 --timeout 120 --access-logfile -
