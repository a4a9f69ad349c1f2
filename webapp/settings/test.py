"""pytest: whatever DATABASE_URL/REDIS_URL say (``make test`` points them at
the real PostgreSQL and Redis, then runs the ``embedded`` tests without them).
A SQLite test database is a file, so a real worker process sees the rows the
test writes. MEDIA_ROOT is a temporary folder exported to the environment so
a worker started by the tests shares it."""
import os
import tempfile
import uuid
from pathlib import Path

from .base import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
# A worker started by the tests connects straight to the test database.
if os.environ.get("WORKER_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["WORKER_DB_NAME"]

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or tempfile.mkdtemp(prefix="vision-test-media-"))
os.environ["MEDIA_ROOT"] = str(MEDIA_ROOT)
# Trained models go to a temporary folder; the feature cache (keyed by photo
# content) is kept in the checkout's var/ between runs.
TRAINED_MODELS_DIR = Path(os.environ.get("TRAINED_MODELS_DIR") or tempfile.mkdtemp(prefix="vision-test-models-"))
os.environ["TRAINED_MODELS_DIR"] = str(TRAINED_MODELS_DIR)
CACHE_DIR = Path(os.environ.get("CACHE_DIR") or BASE_DIR / "var" / "cache")
os.environ["CACHE_DIR"] = str(CACHE_DIR)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Converted backbone weights are kept in the checkout's var/weights across runs
# (the embedded run points VAR_DIR at a temporary folder; no need to convert twice).
WEIGHTS_DIR = Path(os.environ.get("WEIGHTS_DIR") or BASE_DIR / "var" / "weights")
SEARCH_INDEX_DIR = Path(os.environ.get("SEARCH_INDEX_DIR") or tempfile.mkdtemp(prefix="vision-test-indexes-"))
os.environ["SEARCH_INDEX_DIR"] = str(SEARCH_INDEX_DIR)

# One pair of queues per test session, so a stray worker from another run never takes our jobs. A worker
# started by the tests inherits the variable, so base.py already prefixed its routes there.
if "CELERY_QUEUE_PREFIX" not in os.environ:
    CELERY_QUEUE_PREFIX = os.environ["CELERY_QUEUE_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}-"
    INTERACTIVE_QUEUE, BATCH_QUEUE = CELERY_QUEUE_PREFIX + "interactive", CELERY_QUEUE_PREFIX + "batch"
    CELERY_TASK_DEFAULT_QUEUE = BATCH_QUEUE
    CELERY_TASK_ROUTES = {task: {"queue": CELERY_QUEUE_PREFIX + route["queue"]} for task, route in CELERY_TASK_ROUTES.items()}
