"""Shared settings. Embedded default without environment variables: SQLite
and media under ``var/``, and a Celery broker that needs no server (kombu's
filesystem transport). ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite, media and the broker live here

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "webapp.core",
    "webapp.jobs",
    "webapp.checkin",
    "webapp.datasets",
    "webapp.registry",
    "webapp.training",
    "webapp.search",
    "webapp.annotation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django 5.1+'s LoginRequiredMiddleware (every view needs a login unless marked
    # @login_not_required), answering the JSON API with a JSON 401.
    "webapp.core.api_errors.ApiLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Django's require_POST answers 405 with an empty body: say it in words (JSON on the API)
    "webapp.core.api_errors.MethodNotAllowedMiddleware",
    # the job queue being down: one 503 answer for pages and JSON (views let QueueUnavailable rise)
    "webapp.core.api_errors.ServiceErrorMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"
LOGIN_URL = "login"
CSRF_FAILURE_VIEW = "webapp.core.api_errors.csrf_failure"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.core.context_processors.roles",
            ],
        },
    },
]

_sqlite_path = VAR_DIR / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{_sqlite_path}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server and the worker write concurrently: WAL lets readers go on
    # during a write, IMMEDIATE avoids "database is locked" upgrade deadlocks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["webapp.formats"]  # one date/time format: 2026-11-30 14:05:09
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
SERVE_MEDIA = True  # media is private: served by a login-protected view
# Trained models (versioned, see webapp/registry) and caches of computed features.
TRAINED_MODELS_DIR = Path(os.environ.get("TRAINED_MODELS_DIR", VAR_DIR / "models" / "trained"))
CACHE_DIR = Path(os.environ.get("CACHE_DIR", VAR_DIR / "cache"))

# Uploads: refused over this many bytes per file, checked by content.
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", 15 * 1024 * 1024))
# A zip of photos (imported by a job from a private staging folder).
MAX_ZIP_BYTES = int(os.environ.get("MAX_ZIP_BYTES", 40 * MAX_UPLOAD_BYTES))
MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", 50_000_000))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Django's own handlers, except that a temporary file's name never carries the client's extension
# and the name as sent is kept (webapp/core/uploads.py): names on disk are always generated.
FILE_UPLOAD_HANDLERS = ["webapp.core.uploads.MemoryUploadHandler", "webapp.core.uploads.TemporaryUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FILES = 50

# ----- face check-in (seed section 6) -----
FACE_MATCH_THRESHOLD = float(os.environ.get("FACE_MATCH_THRESHOLD", 0.6))
FACE_DETECTOR = os.environ.get("FACE_DETECTOR", "hog")  # "hog" or "cnn"
FACE_UPSAMPLE = int(os.environ.get("FACE_UPSAMPLE", 1))
FACE_MIN_SIZE = int(os.environ.get("FACE_MIN_SIZE", 60))
FACE_MIN_SHARPNESS = float(os.environ.get("FACE_MIN_SHARPNESS", 15))
# Faces are found on a working copy of at most this long side (pixels; boxes map back to the photo).
FACE_WORKING_SIDE = int(os.environ.get("FACE_WORKING_SIDE", 1600))
# The CNN detector on a CPU (dlib without CUDA) reads a photo small enough to finish in about this
# many seconds (vision.faces.cnn_seconds), and the job says how long before it starts.
FACE_CNN_MAX_SECONDS = float(os.environ.get("FACE_CNN_MAX_SECONDS", 15))
CHECKIN_REPEAT_MINUTES = int(os.environ.get("CHECKIN_REPEAT_MINUTES", 5))
# Kiosk mode checks in the largest face only, and only when its box's shorter side is at least this
# share of the photo's shorter side (a person at arm's length from a 640x480 webcam: about 0.3; a
# bystander two metres behind: under 0.1). The matching policy itself is set on the calibration page.
KIOSK_MIN_FACE_FRACTION = float(os.environ.get("KIOSK_MIN_FACE_FRACTION", 0.12))
# Frames a camera check-in takes in a burst; the member is logged only when the frames agree.
CHECKIN_BURST_FRAMES = int(os.environ.get("CHECKIN_BURST_FRAMES", 3))

# ----- search by image (seed section 8) -----
# Pretrained backbone weights converted once on this machine (EfficientNet-Lite0's Keras file).
WEIGHTS_DIR = Path(os.environ.get("WEIGHTS_DIR", VAR_DIR / "weights"))
# Folders searched, in order, for Keras applications' ImageNet weight files (never downloaded).
KERAS_WEIGHTS_DIRS = [p for p in (os.environ.get("KERAS_WEIGHTS_DIR", ""), "~/.keras/models") if p]
# Built search indexes (FAISS files, one folder per gallery, one file per version).
SEARCH_INDEX_DIR = Path(os.environ.get("SEARCH_INDEX_DIR", VAR_DIR / "indexes"))
SEARCH_BACKBONE = os.environ.get("SEARCH_BACKBONE", "efficientnet_lite0")
SEARCH_EMBED_BATCH = int(os.environ.get("SEARCH_EMBED_BATCH", 16))
# When the photos embedded since a gallery's index was built pass this share of the index, a rebuild
# is queued on the batch queue by itself (they are searched exactly until then; issue 14).
SEARCH_REBUILD_SHARE = float(os.environ.get("SEARCH_REBUILD_SHARE", 0.10))

# ----- Celery -----
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_FS_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task's hard limit, or Redis redelivers a
        # message that is still being worked on (Celery docs, "Caveats").
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 12 * 3600)),
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport with atomic writes (its own loses messages under load; see the module)
    CELERY_BROKER_TRANSPORT = "webapp.jobs.fs_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_DIR / "queue"),
        "processed_folder": str(CELERY_FS_DIR / "processed"),
        "control_folder": str(CELERY_FS_DIR / "control"),  # kombu's default is ./control
        "store_processed": False,
        "polling_interval": 0.02,  # seconds; kombu's default of 1 s would dominate a check-in (bench/checkin.py)
    }
# Two queues (webapp/jobs/routing.py): a person waiting never waits behind long work. Routing by task
# name, here only; each queue has its own workers (scripts/run.sh, docker-compose.yml).
CELERY_QUEUE_PREFIX = os.environ.get("CELERY_QUEUE_PREFIX", "")
INTERACTIVE_QUEUE = CELERY_QUEUE_PREFIX + "interactive"
BATCH_QUEUE = CELERY_QUEUE_PREFIX + "batch"
CELERY_TASK_DEFAULT_QUEUE = BATCH_QUEUE
CELERY_TASK_ROUTES = {
    # interactive: seconds, a user is waiting
    **{task: {"queue": INTERACTIVE_QUEUE} for task in (
        "workers.checkin.enrol", "workers.checkin.checkin", "workers.search.query", "workers.search.classify",
        "workers.annotation.detect", "workers.training.predict", "workers.training.activations",
        "workers.training.read")},
    # batch: minutes to hours
    **{task: {"queue": BATCH_QUEUE} for task in (
        "workers.training.classifier", "workers.training.embedding", "workers.training.ocr",
        "workers.training.detector",
        "workers.datasets.import", "workers.search.embed", "workers.search.build_index",
        "workers.annotation.preannotate", "workers.annotation.export")},
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True  # results live on the Job row
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool child whose resident memory passed this many KiB after a task is replaced by a fresh one
# (Celery's backstop against growth: issue 13 saw +315 MB over six 12-megapixel check-ins).
# WORKER_MAX_MEMORY_MB: the interactive worker preloads the models (about 1 GB), training needs more.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(os.environ.get("WORKER_MAX_MEMORY_MB", 3072)) * 1024
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A running job whose heartbeat is older than this is shown as failed.
JOB_STALE_SECONDS = int(os.environ.get("JOB_STALE_SECONDS", CELERY_TASK_TIME_LIMIT + 60))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
