# One image for web, the workers and flower (docker-compose.yml picks the command:
# worker-interactive runs `celery -A webapp.celery worker -Q interactive`, worker-batch
# `... -Q batch` in the TF_GPU=1 build of the same Dockerfile).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/data \
    MEDIA_ROOT=/data/media

WORKDIR /app

# Dependencies before the code, so a code change reuses this layer. Every pin
# is a self-contained manylinux wheel (dlib-bin too: no compiler needed)
# except face_recognition_models, an sdist pip builds in an isolated env
# with setuptools fetched for the build.
COPY requirements.txt .
RUN pip install -r requirements.txt
# The GPU worker image swaps the CPU TensorFlow for the CUDA build
# (docker-compose.yml passes TF_GPU=1 for worker-batch); the code is the same.
ARG TF_GPU=0
RUN if [ "$TF_GPU" = "1" ]; then \
      v=$(pip show tensorflow-cpu | sed -n 's/^Version: //p') \
      && pip uninstall -y tensorflow-cpu && pip install "tensorflow[and-cuda]==$v"; \
    fi

# Non-root. /data is the only place it writes (VAR_DIR: static files, media);
# a new named volume mounted there takes this ownership.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --create-home app \
 && mkdir -p /data/media \
 && chown -R app:app /data

# Code stays root-owned: the app user can read it, not change it.
COPY . .

USER 10001:10001
EXPOSE 8000
# Via sh so the script needs no exec bit from the checkout.
ENTRYPOINT ["/bin/sh", "/app/scripts/docker-entrypoint.sh"]
CMD ["gunicorn", "webapp.wsgi", "--bind", "0.0.0.0:8000"]
