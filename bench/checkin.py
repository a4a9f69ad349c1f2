"""Check-in benchmark: prints figures, tests nothing.

Run from the repository root (``make bench`` does)::

    .venv/bin/python bench/checkin.py [--repeats N] [--backends redis,embedded] [--poll-ms MS] [--no-training]

On one real photo with one face (``../shared/datasets/faces/Barack_Obama/1.jpg``)
it prints the median and 90th percentile, in milliseconds, of:

1. **Raw dlib pipeline**, in this process: ``vision.faces.detect_faces``
   (HOG detection, 68 landmarks, ResNet embedding) on decoded pixels, with the
   product's ``FACE_DETECTOR``/``FACE_UPSAMPLE`` (default ``hog``/1). Decoding
   (``vision.images.load_image``) and each of the three steps are shown
   alone too. It is measured before and after the product paths; the pooled
   median is the reference of the ratios (a drift over 5 % is reported: the
   machine was busy with something else).
2. **The product's check-in path, from upload to stored result, job
   included**: ``webapp.checkin.services.checkin_create`` (decode, store the
   file, rows, enqueue), a real Celery worker runs the job, and the time
   stops when the bench learns that it finished the way the kiosk does
   (``webapp.jobs.waiting.job_wait``, what ``/api/jobs/<id>?wait=`` calls:
   LISTEN/NOTIFY on PostgreSQL, a re-read every 50 ms on SQLite). Two workers run, as
   ``make run`` (``scripts/run.sh``) starts them: one on the interactive queue
   (prefork, one child, models preloaded) and one on the batch queue (one
   child, ``WORKER_PRELOAD_MODELS=0``), on queues of their own
   (``CELERY_QUEUE_PREFIX``); the batch worker runs at nice ``BATCH_NICE``
   (default 10, as ``scripts/run.sh``). It runs twice, each in a child
   process of this script with its own settings (``webapp.settings.local``):

   * ``redis``: PostgreSQL (a database created for the run and dropped after)
     and Redis (db 14, a queue of its own, its keys deleted after);
   * ``embedded``: the default without environment variables: SQLite and
     kombu's filesystem broker in a temporary ``VAR_DIR``.

   One member is enrolled first through the enrolment job (photos 2 and 3 of
   the same person), then two warm-up check-ins run (the worker child loads
   the models after the fork), then the timed ones. ``CHECKIN_REPEAT_MINUTES``
   is 0 so every check-in takes the full path (a ``CheckIn`` row and a face
   crop are written, never a "repeat"). Every job must succeed and log the
   member, or the backend is reported as an error. The breakdown rows split
   the time with the ``Job`` row's timestamps: ``submit`` (the
   ``checkin_create`` call), ``pickup`` (its return to ``job_start``), ``in
   worker`` (``job_start`` to ``job_succeed``) and ``noticed`` (from there to
   the bench's knowing it); one more row, ``upload to the stored result``, is
   the path without the notice, with its own ratio beside the headline one.

   **While a classifier trains**: after the idle check-ins, the same run
   starts a training job through the product's own path
   (``webapp.datasets.services.dataset_import`` of generated photos, then
   ``webapp.training.services.training_start``: the seed's CNN from scratch
   at 128 px, 500 epochs, no early stop), waits until the batch worker has
   finished its first epoch, and times ``--repeats`` check-ins again; each
   must end while the training job is still running (else the figure is
   reported as an error). The training job is then cancelled. The ratio of
   the two medians (busy / idle) is the figure the issue asks for: under
   1.5 on this 2-core machine. ``--no-training`` skips it.

   ``--poll-ms MS`` measures the old way instead: one plain ``SELECT`` of the
   row every MS ms (polling is not free: on this 2-CPU machine polls every 2 ms
   made the worker's job ~60-95 ms slower).
3. **Matching** one embedding against 10,000 and 100,000 synthetic enrolled
   embeddings (1,000 members with 10 or 100 samples each, dlib-like: norm
   about 1) with ``vision.matching.Gallery.match``, for a query close to a
   member and for a stranger, as configured (OpenBLAS threads as numpy
   starts them) and with OpenBLAS limited to one thread (``threadpoolctl``);
   plus the seed's method (a Python loop of ``np.linalg.norm`` per enrolled
   embedding, then the minimum) on 10,000, for comparison.

Targets (from the issues): product path with Redis within 1.1x the raw
pipeline, the embedded default within 2x; check-in while a classifier trains
within 1.5x the idle check-in of the same run; matching 100,000 under 10 ms
(as configured). Each is reported PASS or MISS; the exit status does not depend on them.

Exit status: 0 when every figure was measured, 1 when a backend failed or was
unreachable (the other figures are still printed), 2 when ``../shared`` is
missing. Environment: ``BENCH_PG_ADMIN_URL`` (default
``postgres://postgres@127.0.0.1:5432/postgres``, used to create and drop the
bench database) and ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``).
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
FACES = SHARED / "datasets" / "faces" / "Barack_Obama"
PHOTO = FACES / "1.jpg"
ENROL_PHOTOS = (FACES / "2.jpg", FACES / "3.jpg")
MEMBER_NAME = "Barack Obama"

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

TARGET_REDIS = 1.1  # x raw pipeline (issue 18; 1.3 before it)
TARGET_EMBEDDED = 2.0  # x raw pipeline
TARGET_MATCH_MS = 10.0  # 100,000 enrolled embeddings
TARGET_DECISION_MS = 1.0  # issue 18: what the open-set decision may add at 10,000 members
TARGET_BUSY = 1.5  # x the idle check-in of the same run, while a classifier trains on the batch worker
BATCH_NICE = int(os.environ.get("BATCH_NICE", 10))  # the batch worker's niceness, as scripts/run.sh (0: none)

TRAIN_PHOTOS_PER_CLASS = 20  # generated 128 px photos, two classes
TRAIN_EPOCHS = 500  # more than the timed check-ins need; the job is cancelled after them
TRAIN_START_TIMEOUT_S = 180.0  # batch worker child: TensorFlow import, photos, first epoch

JOB_TIMEOUT_S = 60.0  # one check-in job
ENROL_TIMEOUT_S = 180.0  # worker start + model load + enrolment job
# Default sleep between two reads of the Job row. At 2 ms the bench's own polling (a PostgreSQL query
# every 2 ms, and the server process answering it) took a core's share from the worker on this 2-core
# machine: in-worker time 536 ms at 2 ms polls against 473 ms at 25 ms, raw pipeline 413-430 ms in the
# same runs (issue 18). 25 ms costs at most 25 ms of notice (the "noticed" row shows it); a kiosk
# browser polls every 100 ms.
POLL_MS = 0.0  # 0: wait as the kiosk does (webapp.jobs.waiting.job_wait), no polling
RESULT_PREFIX = "BENCH_RESULT "

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# ----- small helpers ----------------------------------------------------------


def _stats(ms: list[float]) -> dict:
    import numpy as np

    return {"median": statistics.median(ms), "p90": float(np.percentile(ms, 90)), "n": len(ms)}


def _timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def _face_settings() -> tuple[str, int]:
    """The product's detector settings (same environment variables and
    defaults as ``webapp/settings/base.py``)."""
    return os.environ.get("FACE_DETECTOR", "hog"), int(os.environ.get("FACE_UPSAMPLE", 1))


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----- 1. raw pipeline -----------------------------------------------------------


def bench_raw(repeats: int, steps: bool = True) -> dict:
    """Lists of milliseconds: ``pipeline`` always; ``decode``, ``detect``,
    ``landmarks``, ``embedding`` with ``steps``."""
    import numpy as np

    from vision import catalog, registry
    from vision import faces as vfaces
    from vision.images import load_image

    # every model name registered, as the product does at start (webapp.core.models_setup); dlib's
    # files come from face_recognition_models, so the weights folder is not read here
    catalog.setup(weights_dir=os.environ.get("WEIGHTS_DIR", REPO / "var" / "weights"))
    detector, upsample = _face_settings()
    data = PHOTO.read_bytes()
    pixels = load_image(data).pixels
    found = vfaces.detect_faces(pixels, detector=detector, upsample=upsample)  # warm-up, loads the models
    if len(found) != 1:
        raise SystemExit(f"{PHOTO} should show exactly one face, {len(found)} found")
    out = {"size": (int(pixels.shape[1]), int(pixels.shape[0])), "detector": detector, "upsample": upsample,
           "pipeline": _timed(lambda: vfaces.detect_faces(pixels, detector=detector, upsample=upsample), repeats)}
    if not steps:
        return out

    # the three steps alone, called as vision.faces.detect_faces calls them
    import dlib

    box = found[0].box
    predictor, encoder = registry.load("dlib_landmarks_68"), registry.load("dlib_resnet_v1")
    image = np.ascontiguousarray(pixels)
    rect = dlib.rectangle(box[0], box[1], box[2] - 1, box[3] - 1)
    shape = predictor(image, rect)
    out.update(
        decode=_timed(lambda: load_image(data), repeats),
        detect=_timed(lambda: vfaces.face_locations(image, detector=detector, upsample=upsample), repeats),
        landmarks=_timed(lambda: predictor(image, rect), repeats),
        embedding=_timed(lambda: encoder.compute_face_descriptor(image, shape, 0), repeats),
    )
    return out


# ----- 3. matching -----------------------------------------------------------------


def _synthetic_gallery(rng, n_members: int, per_member: int):
    """dlib-like embeddings: norm about 1 (std 1/sqrt(128) per value), a
    member's samples about 0.35 from each other, members about 1.4 apart."""
    import numpy as np

    centres = rng.normal(0.0, 1.0 / np.sqrt(128), size=(n_members, 128)).astype(np.float32)
    noise = rng.normal(0.0, 0.25 / np.sqrt(128), size=(n_members, per_member, 128)).astype(np.float32)
    emb = (centres[:, None, :] + noise).reshape(-1, 128)
    labels = np.repeat(np.arange(1, n_members + 1), per_member)
    perm = rng.permutation(len(emb))  # stored order is not grouped by member
    return centres, emb[perm], labels[perm]


def bench_matching(runs: int) -> dict:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from vision.matching import Gallery

    rng = np.random.default_rng(20240601)
    out = {}
    for n_members, per_member in ((1000, 10), (1000, 100)):
        centres, emb, labels = _synthetic_gallery(rng, n_members, per_member)
        gallery = Gallery(emb, labels.tolist())
        member_q = (centres[7] + rng.normal(0, 0.25 / np.sqrt(128), 128)).astype(np.float32)[None, :]
        stranger_q = rng.normal(0.0, 1.0 / np.sqrt(128), 128).astype(np.float32)[None, :]
        m, s = gallery.match(member_q)[0], gallery.match(stranger_q)[0]
        if m.label != 8 or s.label is not None:
            raise SystemExit(f"synthetic gallery is wrong: member query -> {m}, stranger query -> {s}")
        n = len(emb)
        out[n] = {"members": n_members, "per_member": per_member,
                  "member": _stats(_timed(lambda: gallery.match(member_q), runs)),
                  "stranger": _stats(_timed(lambda: gallery.match(stranger_q), runs))}
        with threadpool_limits(limits=1, user_api="blas"):
            gallery.match(member_q)
            out[n]["member_1thread"] = _stats(_timed(lambda: gallery.match(member_q), runs))
        if n == 10_000:
            rows, labs, q = list(emb), labels.tolist(), member_q[0]

            def seed_match():
                best, who = float("inf"), None
                for e, label in zip(rows, labs):
                    d = np.linalg.norm(e - q)
                    if d < best:
                        best, who = d, label
                return who if best < 0.6 else None

            if seed_match() != 8:
                raise SystemExit("seed method found the wrong member")
            out["seed_10000"] = _stats(_timed(seed_match, max(5, runs // 5)))
    return out


def bench_decision(runs: int) -> dict:
    """What the open-set decision (issue 18) adds to matching at 10,000 members
    x 3 photos: ``Gallery.decide`` (balanced policy: cohort cut + margin) against
    ``Gallery.match`` with the old fixed 0.6, on the same gallery and queries,
    interleaved; and the one-off cohort statistics, computed once per gallery
    version (kept with the worker's cached gallery)."""
    import numpy as np

    from vision.matching import POLICIES, Gallery

    rng = np.random.default_rng(20261207)
    centres, emb, labels = _synthetic_gallery(rng, 10_000, 3)
    t = time.perf_counter()
    gallery = Gallery(emb, labels.tolist())
    gallery.cohort()
    calibrate_ms = (time.perf_counter() - t) * 1e3
    policy = POLICIES["balanced"]
    queries = [(centres[i] + rng.normal(0, 0.25 / np.sqrt(128), 128)).astype(np.float32)[None, :] for i in range(5)]
    queries += [rng.normal(0.0, 1.0 / np.sqrt(128), 128).astype(np.float32)[None, :] for _ in range(5)]
    old, new = [], []
    for i in range(runs):
        q = queries[i % len(queries)]
        old += _timed(lambda: gallery.match(q, 0.6), 1)
        new += _timed(lambda: gallery.decide(q, policy), 1)
    return {"old": _stats(old), "new": _stats(new), "added": statistics.median(new) - statistics.median(old),
            "calibrate_ms": calibrate_ms, "cut": gallery.cut(policy)}


# ----- 2. product path: parent side -----------------------------------------------


def _pg_url(dbname: str) -> str:
    return urlunparse(urlparse(PG_ADMIN_URL)._replace(path=f"/{dbname}"))


def _pg_admin():
    import psycopg

    url = PG_ADMIN_URL.replace("postgres://", "postgresql://", 1)
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def _pg_drop(dbname: str) -> None:
    from psycopg import sql

    with _pg_admin() as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                  [dbname])
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))


def _pg_create(dbname: str) -> None:
    from psycopg import sql

    _pg_drop(dbname)
    with _pg_admin() as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def _redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=5)


def _redis_cleanup(queue: str) -> None:
    """Delete the queue and kombu's bindings for it (the queue name is unique to this run)."""
    r = _redis_client()
    keys = list(r.scan_iter(match=f"*{queue}*"))
    if keys:
        r.delete(*keys)


def _child_env(var_dir: str, queue: str) -> dict:
    env = dict(os.environ)
    for k in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "WORKER_DB_NAME", "CELERY_QUEUE_PREFIX", "DJANGO_SETTINGS_MODULE",
              "TRAINED_MODELS_DIR", "CACHE_DIR", "WORKER_PRELOAD_MODELS"):
        env.pop(k, None)
    # queues of its own (<prefix>interactive, <prefix>batch): a worker of another run never takes its jobs
    env.update(DJANGO_SETTINGS_MODULE="webapp.settings.local", VAR_DIR=var_dir, CELERY_QUEUE_PREFIX=f"{queue}-",
               CHECKIN_REPEAT_MINUTES="0", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    return env


def bench_product(backend: str, repeats: int, warmup: int, poll_ms: float, training: bool) -> dict:
    """Run one backend in a child process of this script; returns its JSON."""
    queue = f"bench-checkin-{os.getpid()}-{backend}"
    dbname = f"bench_checkin_{os.getpid()}"
    var_dir = tempfile.mkdtemp(prefix=f"bench-checkin-{backend}-")
    env = _child_env(var_dir, queue)
    created_db = False
    try:
        if backend == "redis":
            try:
                _redis_client().ping()
            except Exception as exc:
                return {"error": f"Redis is not reachable at {REDIS_URL}: {exc}"}
            try:
                _pg_create(dbname)
                created_db = True
            except Exception as exc:
                return {"error": f"PostgreSQL is not reachable, or the bench database could not be created "
                                 f"({PG_ADMIN_URL}): {exc}"}
            env.update(DATABASE_URL=_pg_url(dbname), REDIS_URL=REDIS_URL)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--product-child", backend,
               "--repeats", str(repeats), "--warmup", str(warmup), "--poll-ms", str(poll_ms)]
        if not training:
            cmd.append("--no-training")
        limit = ENROL_TIMEOUT_S + (repeats + warmup) * JOB_TIMEOUT_S + 120
        if training:
            limit += TRAIN_START_TIMEOUT_S + repeats * JOB_TIMEOUT_S + 60
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return {"error": f"the {backend} run took longer than {limit:.0f} s and was stopped"}
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX):])
        return {"error": f"the {backend} run printed no result (exit {proc.returncode}):\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"}
    finally:
        if created_db:
            try:
                _pg_drop(dbname)
            except Exception as exc:
                print(f"warning: could not drop the database {dbname}: {exc}", file=sys.stderr)
        if backend == "redis":
            try:
                _redis_cleanup(queue)
            except Exception as exc:
                print(f"warning: could not delete the Redis keys of {queue}: {exc}", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)


# ----- 2. product path: child side (Django configured by the environment) --------


class BenchError(Exception):
    pass


class Worker:
    """One Celery worker process of the bench (``label``: ``interactive`` or ``batch``) and its log."""

    def __init__(self, label: str, proc: subprocess.Popen, log_path: Path):
        self.label, self.proc, self.log_path = label, proc, log_path


def _start_worker(label: str, log_path: Path) -> Worker:
    """A worker on one queue, as ``scripts/run.sh`` starts it (``label`` names the queue; the batch
    worker does not preload models and runs at nice ``BATCH_NICE``); its own process group, so
    stopping it stops its pool child too."""
    from django.conf import settings

    queue = {"interactive": settings.INTERACTIVE_QUEUE, "batch": settings.BATCH_QUEUE}[label]
    cmd = [sys.executable, "-m", "celery", "-A", "webapp.celery", "worker", "-c", "1", "-P", "prefork",
           "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
           "-Q", queue, "-n", f"{queue}@%h"]
    env = dict(os.environ, WORKER_PRELOAD_MODELS="1" if label == "interactive" else "0")
    if label == "batch":  # as scripts/run.sh: below the interactive worker in the CPU's queue
        cmd = ["nice", "-n", str(BATCH_NICE)] + cmd
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return Worker(label, proc, log_path)


def _stop_worker(w: Worker) -> None:
    worker = w.proc
    try:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)  # warm shutdown of the main process and its child
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        os.killpg(worker.pid, signal.SIGKILL)  # whatever is left in its group
    except (ProcessLookupError, PermissionError):
        pass
    try:
        worker.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _log_tail(path: Path, n: int = 2500) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _workers_check(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc.poll() is not None:
            raise BenchError(f"the {w.label} worker exited (code {w.proc.returncode}); its log:\n{_log_tail(w.log_path)}")


def _wait_job(job_id: int, timeout: float, workers: list[Worker], sleep: float):
    """Wait until the Job row leaves queued/running; returns (state, wall time known).
    ``sleep`` 0: as the kiosk waits (``job_wait``, in steps of 2 s to check the workers);
    else one plain SELECT every ``sleep`` seconds (the ORM's query building would take CPU
    time from the worker on a small machine and inflate what is measured)."""
    from django.db import connection

    from webapp.jobs.models import Job
    from webapp.jobs.waiting import job_wait

    active = tuple(Job.ACTIVE_STATES)
    sql = f"SELECT state FROM {connection.ops.quote_name(Job._meta.db_table)} WHERE id = %s"
    deadline = time.perf_counter() + timeout
    while True:
        if sleep == 0:
            ended = job_wait(job_id, min(2.0, max(0.05, deadline - time.perf_counter())))
            known = time.time()
        with connection.cursor() as cur:
            cur.execute(sql, [job_id])
            row = cur.fetchone()
        if sleep:
            known = time.time()
        state = row[0] if row else None
        if state not in active and (sleep or ended):
            return state, known
        if time.perf_counter() > deadline:
            logs = "\n".join(f"{w.label} worker log:\n{_log_tail(w.log_path)}" for w in workers)
            raise BenchError(f"job {job_id} still {state} after {timeout:.0f} s; {logs}")
        _workers_check(workers)
        if sleep:
            time.sleep(sleep)


def _generated_dataset(n_per_class: int):
    """A classification dataset of generated 128 px photos (two classes), imported through the
    product's service, as an upload of a folder would be."""
    import numpy as np
    from PIL import Image

    from webapp.datasets.models import Dataset
    from webapp.datasets.services import dataset_import

    rng = np.random.default_rng(42)
    folder = Path(tempfile.mkdtemp(prefix="bench-checkin-photos-"))
    try:
        for name, base in (("dark", 60), ("light", 190)):
            (folder / name).mkdir()
            for i in range(n_per_class):
                px = np.clip(base + rng.normal(0, 40, (128, 128, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(px).save(folder / name / f"{i}.png")
        ds = Dataset.objects.create(name="bench: generated photos", kind=Dataset.Kind.CLASSIFICATION)
        dataset_import(dataset=ds, source=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ds


def _timed_checkins(n: int, warmup: int, member, workers: list[Worker], poll_s: float,
                    while_running: int | None = None) -> dict:
    """``n`` check-ins of PHOTO through the product's path, one after the other, after ``warmup``
    untimed ones; the figures in ms. ``while_running``: a job id that must still be running when
    each timed check-in has finished (else the figure would not be "while it runs")."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.checkin.services import checkin_create
    from webapp.jobs.models import Job

    data = PHOTO.read_bytes()
    total, submit, pickup, in_worker, noticed, stored = [], [], [], [], [], []
    for i in range(warmup + n):
        upload = SimpleUploadedFile(PHOTO.name, data, content_type="image/jpeg")
        w0, t0 = time.time(), time.perf_counter()
        photo = checkin_create(upload=upload, source="upload")
        w1 = time.time()
        state, w2 = _wait_job(photo.job_id, JOB_TIMEOUT_S, workers, poll_s)
        t2 = time.perf_counter()
        job = Job.objects.get(pk=photo.job_id)
        faces = (job.result or {}).get("faces", [])
        if state != Job.State.SUCCEEDED:
            raise BenchError(f"check-in job {job.pk} {state}: {job.error_code} {job.error}")
        if (len(faces) != 1 or faces[0].get("member_id") != member.pk or faces[0].get("name") != MEMBER_NAME
                or faces[0].get("status") != "logged"):
            raise BenchError(f"check-in job {job.pk} did not log the member: {faces}")
        if while_running is not None:
            other = Job.objects.get(pk=while_running)
            if other.state != Job.State.RUNNING:
                raise BenchError(f"the training job ended ({other.state}: {other.error or other.message}) before "
                                 f"check-in {i + 1} of {warmup + n}; the figure would not be measured while it runs")
        if i < warmup:
            continue
        total.append((t2 - t0) * 1e3)
        submit.append((w1 - w0) * 1e3)
        pickup.append((job.started_at.timestamp() - w1) * 1e3)
        in_worker.append((job.finished_at.timestamp() - job.started_at.timestamp()) * 1e3)
        noticed.append((w2 - job.finished_at.timestamp()) * 1e3)
        stored.append((job.finished_at.timestamp() - w0) * 1e3)
    return {"total": _stats(total), "submit": _stats(submit), "pickup": _stats(pickup),
            "in_worker": _stats(in_worker), "noticed": _stats(noticed), "stored": _stats(stored)}


def _training_running(workers: list[Worker]):
    """Start a classifier training job through the product's path and return it once the batch
    worker has finished its first epoch (TensorFlow imported, photos read: it trains now)."""
    from webapp.jobs.models import Job
    from webapp.training.services import training_start

    ds = _generated_dataset(TRAIN_PHOTOS_PER_CLASS)
    job = training_start(dataset=ds, model_kind="scratch", epochs=TRAIN_EPOCHS, image_size=128,
                         patience=TRAIN_EPOCHS)
    deadline = time.perf_counter() + TRAIN_START_TIMEOUT_S
    while True:
        job.refresh_from_db()
        if job.state not in Job.ACTIVE_STATES:
            raise BenchError(f"the training job {job.state} before it trained: {job.error_code} {job.error}")
        if job.state == Job.State.RUNNING and "epoch" in job.message.lower():
            return job
        if time.perf_counter() > deadline:
            raise BenchError(f"the training job was still at {job.state} ({job.message!r}) after "
                             f"{TRAIN_START_TIMEOUT_S:.0f} s; batch worker log:\n{_log_tail(workers[1].log_path)}")
        _workers_check(workers)
        time.sleep(0.2)


def _training_cancel(job, workers: list[Worker], timeout: float = 60.0) -> None:
    """Cancel the training job (as its Cancel button) and wait until the batch worker has recorded
    what it kept, so that stopping the worker does not interrupt it."""
    from webapp.jobs.models import Job
    from webapp.jobs.services import job_cancel

    job_cancel(job=job)
    deadline = time.perf_counter() + timeout
    while Job.objects.get(pk=job.pk).message == "Cancelled" and time.perf_counter() < deadline:
        if any(w.proc.poll() is not None for w in workers):
            return
        time.sleep(0.2)


def product_child(backend: str, repeats: int, warmup: int, poll_s: float, training: bool = True) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connections

    from webapp.checkin.models import Member
    from webapp.checkin.services import member_enroll
    from webapp.jobs.models import Job

    out: dict = {"backend": backend, "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                 "broker": settings.CELERY_BROKER_URL.split(":", 1)[0]}
    workers: list[Worker] = []
    train_job = None
    try:
        call_command("migrate", verbosity=0)
        # one worker per queue, as make run starts them
        for label in ("interactive", "batch"):
            workers.append(_start_worker(label, Path(settings.VAR_DIR) / f"worker-{label}.log"))

        # enrol one member through the product's enrolment job
        member = Member.objects.create(name=MEMBER_NAME)
        photos = [SimpleUploadedFile(p.name, p.read_bytes(), content_type="image/jpeg") for p in ENROL_PHOTOS]
        t = time.perf_counter()
        enrol = member_enroll(member=member, photos=photos)
        if enrol.job is None:
            raise BenchError(f"enrolment refused every photo: {enrol.refused}")
        state, _ = _wait_job(enrol.job.pk, ENROL_TIMEOUT_S, workers, 0.05)
        job = Job.objects.get(pk=enrol.job.pk)
        if state != Job.State.SUCCEEDED or not job.result.get("accepted"):
            raise BenchError(f"enrolment job {state}: {job.error or job.result}")
        out["enrol_s"] = time.perf_counter() - t  # includes worker start and model load
        out["enrolled"] = job.result["accepted"]

        out.update(_timed_checkins(repeats, warmup, member, workers, poll_s))
        code = 0
        if training:
            try:
                t = time.perf_counter()
                train_job = _training_running(workers)
                out["training_start_s"] = time.perf_counter() - t
                busy = _timed_checkins(repeats, 0, member, workers, poll_s, while_running=train_job.pk)
                train_job.refresh_from_db()
                out["busy"] = dict(busy, training=train_job.message)
            except BenchError as exc:
                out["busy"] = {"error": str(exc)}
                code = 1
    except Exception as exc:  # reported by the parent
        out["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        if train_job is not None:
            try:
                _training_cancel(train_job, workers)
            except Exception as exc:
                print(f"warning: could not cancel the training job: {exc}", file=sys.stderr)
        for w in workers:
            _stop_worker(w)
        connections.close_all()
    print(RESULT_PREFIX + json.dumps(out), flush=True)
    return code


# ----- report -------------------------------------------------------------------

WIDTH = 108


def _row(label: str, s: dict | None, ratio: str = "", target: str = "", verdict: str = "") -> str:
    med = f"{s['median']:9.1f}" if s else f"{'-':>9}"
    p90 = f"{s['p90']:9.1f}" if s else f"{'-':>9}"
    return f"{label:<62}{med}{p90}  {ratio:>6}  {target:>8}  {verdict}".rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed runs of the raw pipeline and of each product path (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed check-ins before the timed ones (default 2)")
    parser.add_argument("--match-runs", type=int, default=50, help="timed runs of each matching figure (default 50)")
    parser.add_argument("--poll-ms", type=float, default=POLL_MS,
                        help="poll the Job row every MS ms instead of waiting as the kiosk does (default: wait)")
    parser.add_argument("--backends", default="redis,embedded",
                        help="product paths to run: redis, embedded or both (default)")
    parser.add_argument("--no-training", action="store_true",
                        help="skip the check-ins timed while a classifier trains on the batch worker")
    parser.add_argument("--decision-only", action="store_true",
                        help="print only what the open-set decision adds at 10,000 members (seconds, no workers)")
    parser.add_argument("--product-child", choices=("redis", "embedded"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.match_runs < 1 or args.warmup < 0 or args.poll_ms < 0:
        parser.error("--repeats and --match-runs must be at least 1, --warmup at least 0, --poll-ms not negative")

    if not PHOTO.is_file() or not all(p.is_file() for p in ENROL_PHOTOS):
        print(f"The shared data folder is missing: {FACES} should hold 1.jpg, 2.jpg and 3.jpg "
              f"(expected next to the repository, in ../shared).", file=sys.stderr)
        return 2
    if args.product_child:
        return product_child(args.product_child, args.repeats, args.warmup, args.poll_ms / 1e3, not args.no_training)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("redis", "embedded"):
            parser.error(f"unknown backend {b!r}")

    import dlib
    import numpy as np

    load = os.getloadavg()
    if args.decision_only:
        _report_decision(bench_decision(args.match_runs * 4))
        return 0
    _progress("measuring the raw pipeline...")
    raw = bench_raw(args.repeats)
    products = {}
    for b in backends:
        _progress(f"measuring the product path on {b} (two workers start, enrolment, {args.warmup}+{args.repeats} "
                  f"check-ins{'' if args.no_training else f', a training job starts, {args.repeats} check-ins while it runs'})...")
        products[b] = bench_product(b, args.repeats, args.warmup, args.poll_ms, not args.no_training)
    _progress("measuring the raw pipeline again...")
    raw_after = bench_raw(args.repeats, steps=False)["pipeline"]
    _progress("measuring matching...")
    match = bench_matching(args.match_runs)

    before, after = statistics.median(raw["pipeline"]), statistics.median(raw_after)
    pipeline = _stats(raw["pipeline"] + raw_after)
    ref = pipeline["median"]
    w, h = raw["size"]
    print(f"Check-in benchmark: {PHOTO.relative_to(SHARED.parent)} ({w}x{h} JPEG, one face); "
          f"{args.repeats} timed runs, {args.match_runs} for matching")
    print(f"Machine: {os.cpu_count()} CPUs (os.cpu_count), {platform.machine()}, {platform.platform()}; "
          f"load average at start {load[0]:.2f}; Python {platform.python_version()}, dlib {dlib.__version__}, "
          f"numpy {np.__version__}")
    print()
    print(f"{'figure':<62}{'median':>9}{'p90':>9}  {'x raw':>6}  {'target':>8}  verdict")
    print(f"{'':<62}{'ms':>9}{'ms':>9}")
    print("-" * WIDTH)
    print(_row("decode only (vision.images.load_image)", _stats(raw["decode"])))
    print(_row(f"raw dlib pipeline (detect_faces, {raw['detector']}, upsample {raw['upsample']})", pipeline, "1.00"))
    print(_row("  detect (face_locations)", _stats(raw["detect"])))
    print(_row("  landmarks (68 points)", _stats(raw["landmarks"])))
    print(_row("  embedding (ResNet, no jitter)", _stats(raw["embedding"])))

    names = {"redis": ("Redis + PostgreSQL", TARGET_REDIS), "embedded": ("embedded (SQLite + filesystem broker)", TARGET_EMBEDDED)}
    failed = False
    for b, res in products.items():
        label, target = names[b]
        if "error" in res:
            failed = True
            print(_row(f"product check-in, {label}", None, "", f"<={target:.1f}x", "ERROR (below)"))
            continue
        ratio = res["total"]["median"] / ref
        print(_row(f"product check-in, {label}", res["total"], f"{ratio:.2f}x", f"<={target:.1f}x",
                   "PASS" if ratio <= target else "MISS"))
        print(_row("  submit (checkin_create: decode, store, rows, enqueue)", res["submit"]))
        print(_row("  pickup (broker delivery to job_start)", res["pickup"]))
        print(_row("  in worker (job_start to job_succeed)", res["in_worker"]))
        how = f"the poll that saw it, {args.poll_ms:g} ms polls" if args.poll_ms else "the kiosk's wait returning"
        print(_row(f"  noticed (job_succeed to {how})", res["noticed"]))
        print(_row("  upload to the stored result (submit to job_succeed)", res["stored"],
                   f"{res['stored']['median'] / ref:.2f}x"))
        busy = res.get("busy")
        if busy is None:
            continue
        if "error" in busy:
            failed = True
            print(_row("  while a classifier trains on the batch worker", None, "", f"<{TARGET_BUSY:.1f}x idle",
                       "ERROR (below)"))
            continue
        busy_ratio = busy["total"]["median"] / res["total"]["median"]
        p90_ratio = busy["total"]["p90"] / res["total"]["p90"]
        print(_row("  while a classifier trains on the batch worker", busy["total"],
                   f"{busy['total']['median'] / ref:.2f}x", f"<{TARGET_BUSY:.1f}x idle",
                   f"{'PASS' if busy_ratio < TARGET_BUSY else 'MISS'}: {busy_ratio:.2f}x idle (p90 {p90_ratio:.2f}x)"))
        print(_row("    pickup (broker delivery to job_start)", busy["pickup"]))
        print(_row("    in worker (job_start to job_succeed)", busy["in_worker"]))

    for n in (10_000, 100_000):
        m = match[n]
        target = f"<{TARGET_MATCH_MS:g} ms" if n == 100_000 else ""
        for kind in ("member", "stranger"):
            s = m[kind]
            verdict = ("PASS" if s["median"] < TARGET_MATCH_MS else "MISS") if target else ""
            print(_row(f"match 1 vs {n:,} ({m['members']:,} members x {m['per_member']}), {kind} query", s,
                       "", target, verdict))
        print(_row("  same, member query, OpenBLAS limited to 1 thread", m["member_1thread"]))
    _report_decision(bench_decision(args.match_runs * 4), rule=False)
    seed = match["seed_10000"]
    print(_row("seed method vs 10,000 (Python loop of np.linalg.norm)", seed, "", "",
               f"{seed['median'] / match[10_000]['member']['median']:.0f}x Gallery, "
               f"{seed['median'] / match[10_000]['member_1thread']['median']:.0f}x with 1 thread"))
    print("-" * WIDTH)
    print("x raw: median of the product path / pooled median of the raw pipeline. Breakdown rows: Job row timestamps.")
    print("x idle: check-in median (p90) while a classifier trains / the idle check-in median (p90) of the same run.")
    drift = abs(after - before) / before
    print(f"raw pipeline median before the product paths {before:.1f} ms, after {after:.1f} ms"
          + (f": {drift:.0%} apart, the machine was busy; ratios are unreliable." if drift > 0.05 else "."))
    for b, res in products.items():
        if "error" in res:
            print(f"\nERROR in the {b} product path:\n{res['error']}")
        else:
            print(f"{b}: database {res['database']}, broker {res['broker']}; enrolment of {res['enrolled']} photos "
                  f"took {res['enrol_s']:.1f} s including worker start and model load.")
            busy = res.get("busy") or {}
            if "error" in busy:
                print(f"ERROR in the {b} check-ins while a classifier trains:\n{busy['error']}")
            elif busy:
                print(f"  while training: the job reached its first epoch {res['training_start_s']:.1f} s after it was "
                      f"started; after the timed check-ins it said: {busy['training']}")
    return 1 if failed else 0


def _report_decision(d: dict, rule: bool = True) -> None:
    if rule:
        print(f"{'figure':<62}{'median':>9}{'p90':>9}  {'':>6}  {'target':>8}  verdict")
        print("-" * WIDTH)
    print(_row("match 1 vs 30,000 (10,000 members x 3), old rule (under 0.6)", d["old"]))
    print(_row("  open-set decision, balanced (cohort cut + margin)", d["new"], "", f"<{TARGET_DECISION_MS:g} ms",
               f"{'PASS' if d['added'] < TARGET_DECISION_MS else 'MISS'}: adds {d['added']:.3f} ms"))
    print(_row(f"  once per gallery change: cohort statistics (cut {d['cut'].threshold:.3f}, {d['cut'].source})",
               {"median": d["calibrate_ms"], "p90": d["calibrate_ms"]}))


if __name__ == "__main__":
    sys.exit(main())
