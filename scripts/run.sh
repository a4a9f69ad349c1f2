#!/usr/bin/env bash
# Web server (gunicorn) + one Celery worker, on whatever settings the
# environment selects (embedded default without DATABASE_URL/REDIS_URL).
# A worker that stops on its own (a crash, killed for memory) is started
# again, so queued jobs do not wait forever; Ctrl+C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/log
STOPPING=var/worker.stopping
rm -f "$STOPPING"

supervise_worker() {
  while :; do
    $BIN/celery -A workers.celery worker --loglevel=INFO --concurrency="${WORKER_CONCURRENCY:-1}" \
      --hostname="worker@%h" >>var/log/worker.log 2>&1 &
    echo $! >var/worker.pid
    local rc=0
    wait $! || rc=$?
    [ -e "$STOPPING" ] && return 0
    echo "$(date -u +%FT%TZ) The Celery worker stopped (exit $rc); starting it again in 2 s (log: var/log/worker.log)." >&2
    sleep 2
    [ -e "$STOPPING" ] && return 0
  done
}
supervise_worker &
SUPERVISOR=$!

stop_worker() {
  # A signal sent to the whole process group (Ctrl+C, kill -- -PGID) also hits the worker's pool
  # child, and Celery's warm shutdown can then wait for it forever: give it 10 s, then kill.
  touch "$STOPPING"
  local worker
  worker=$(cat var/worker.pid 2>/dev/null || true)
  if [ -n "$worker" ] && kill -TERM "$worker" 2>/dev/null; then
    for _ in $(seq 20); do kill -0 "$worker" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$worker" 2>/dev/null; then
      echo "The Celery worker did not stop within 10 s; killing it."
      pkill -KILL -P "$worker" 2>/dev/null; kill -KILL "$worker" 2>/dev/null
    fi
  fi
  wait "$SUPERVISOR" 2>/dev/null
  rm -f "$STOPPING" var/worker.pid
  true
}
trap stop_worker EXIT INT TERM
echo "Celery worker started (log: var/log/worker.log; started again if it stops)"
echo "Open http://${HOST}:${PORT}/  (log in with the admin account; Ctrl+C stops both)"
$BIN/gunicorn webapp.wsgi --bind "${HOST}:${PORT}" --control-socket var/gunicorn.ctl --workers 2 --threads 4 --timeout 120 --access-logfile -
