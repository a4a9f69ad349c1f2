#!/usr/bin/env bash
# Web server (gunicorn) + one Celery worker per queue, on whatever settings
# the environment selects (embedded default without DATABASE_URL/REDIS_URL):
#
#   interactive@<host>  -Q ${CELERY_QUEUE_PREFIX}interactive  (check-ins, searches, predictions:
#                        a person is waiting), log var/log/worker-interactive.log
#   batch@<host>        -Q ${CELERY_QUEUE_PREFIX}batch        (training, imports, index builds,
#                        exports), log var/log/worker-batch.log; WORKER_PRELOAD_MODELS=0: its jobs load
#                        what they need, so it does not hold dlib and the search backbone for nothing;
#                        at nice BATCH_NICE (default 10): on this one machine a check-in gets the CPU
#                        first and training takes what is left (bench/checkin.py measures both ways)
#
# so a check-in never waits behind a training job (webapp/jobs/routing.py). Pool processes per queue:
# INTERACTIVE_CONCURRENCY and BATCH_CONCURRENCY (default 1 each). A worker that stops on its own
# (a crash, killed for memory) is started again, so queued jobs do not wait forever; Ctrl+C (or TERM
# to the script) stops the server and both workers.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/log
STOPPING=var/worker.stopping
rm -f "$STOPPING"
PREFIX="${CELERY_QUEUE_PREFIX:-}"

# supervise_worker NAME CONCURRENCY NICENESS [ENV=VALUE...]: run the worker for queue $PREFIX$NAME, again if
# it stops. (env and nice exec in turn: $! is the worker's main process.)
supervise_worker() {
  local name=$1 concurrency=$2 niceness=$3
  shift 3
  local log="var/log/worker-$name.log"
  while :; do
    env "$@" nice -n "$niceness" $BIN/celery -A webapp.celery worker --loglevel=INFO --concurrency="$concurrency" \
      -Q "$PREFIX$name" --hostname="$name@%h" >>"$log" 2>&1 &
    echo $! >"var/worker-$name.pid"
    local rc=0
    wait $! || rc=$?
    [ -e "$STOPPING" ] && return 0
    echo "$(date -u +%FT%TZ) The $name Celery worker stopped (exit $rc); starting it again in 2 s (log: $log)." >&2
    sleep 2
    [ -e "$STOPPING" ] && return 0
  done
}
supervise_worker interactive "${INTERACTIVE_CONCURRENCY:-1}" 0 &
SUPERVISORS=$!
supervise_worker batch "${BATCH_CONCURRENCY:-1}" "${BATCH_NICE:-10}" WORKER_PRELOAD_MODELS=0 &
SUPERVISORS="$SUPERVISORS $!"

stop_workers() {
  # A signal sent to the whole process group (Ctrl+C, kill -- -PGID) also hits the workers' pool
  # children, and Celery's warm shutdown can then wait for them forever: give them 20 s, then kill
  # (an idle worker takes about 7 s to stop here, more when the machine is busy).
  trap - EXIT INT TERM
  touch "$STOPPING"
  local pids="" pid name
  for name in interactive batch; do
    pid=$(cat "var/worker-$name.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
  done
  for _ in $(seq 40); do
    local alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    pids=$alive
    [ -z "$pids" ] && break
    sleep 0.5
  done
  for pid in $pids; do
    echo "A Celery worker (pid $pid) did not stop within 20 s; killing it."
    pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
  done
  # shellcheck disable=SC2086
  wait $SUPERVISORS 2>/dev/null || true  # a supervisor killed by the same signal: not an error here
  rm -f "$STOPPING" var/worker-interactive.pid var/worker-batch.pid
  true
}
trap stop_workers EXIT INT TERM
echo "Celery workers started: interactive@$(hostname) (queue ${PREFIX}interactive, log var/log/worker-interactive.log)"
echo "  and batch@$(hostname) (queue ${PREFIX}batch, log var/log/worker-batch.log); each started again if it stops"
echo "Open http://${HOST}:${PORT}/  (log in with the admin account; Ctrl+C stops the server and the workers)"
$BIN/gunicorn webapp.wsgi --bind "${HOST}:${PORT}" --control-socket var/gunicorn.ctl --workers 2 --threads 4 --timeout 120 --access-logfile -
