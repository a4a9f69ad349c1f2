#!/bin/sh
# Container entry point. Before gunicorn (the web service) it prepares the
# database, static files, the first admin and the model files, as `make run`
# does; any other command (celery worker, flower, manage.py ...) runs as given.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = "gunicorn" ]; then
  python manage.py migrate --noinput
  python manage.py collectstatic --noinput -v0
  python manage.py ensure_admin
  python manage.py check_models
fi
exec "$@"
