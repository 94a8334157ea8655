# syntax=docker/dockerfile:1
# persona-pipeline: one image for every role; the role is the container command.
#
#   web               gunicorn -c python:visualization_web.gunicorn_conf --bind 0.0.0.0:8000 --bind 0.0.0.0:9464 "visualization_web.app:create_app()"
#   input worker      celery -A input_worker.app worker -Q ingest,extract --concurrency 2 -n input@%h
#   retrain worker    celery -A trainer_worker.app worker -Q retrain --concurrency 1 -n retrain@%h
#   reclassify worker celery -A trainer_worker.app worker -Q reclassify --concurrency 2 -n reclassify@%h
#   beat              celery -A trainer_worker.app beat --schedule /tmp/celerybeat-schedule
#   flower            celery -A trainer_worker.app flower --port=5555   (auth: env FLOWER_BASIC_AUTH)
#   migrate           persona-pipeline migrate
#
# Every runtime dependency is a binary wheel (dlib-bin ships compiled dlib, numpy /
# scipy / scikit-learn / pillow bundle their native libraries) except
# face-recognition-models, a pure-Python sdist holding the dlib model weights. So no
# compiler is needed anywhere: the builder stage only builds the virtualenv (and
# refuses to compile anything), the final stage copies it and adds no packages.
# Build: docker build -t persona-pipeline:0.1.0 .   (or: az acr build -r <acr> -t persona-pipeline:0.1.0 .)

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY common ./common
COPY input_worker ./input_worker
COPY trainer_worker ./trainer_worker
COPY visualization_web ./visualization_web

# 1. the project as a wheel (setuptools from PyPI, build isolation);
# 2. install it with binary wheels only, except the pure-Python model package.
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip install --only-binary=:all: --no-binary=face-recognition-models /wheels/*.whl \
 && python -c "import dlib, face_recognition_models, cassandra, celery, flask, gunicorn, flower; print('dlib', dlib.__version__)" \
 && persona-pipeline --help >/dev/null

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="persona-pipeline" \
      org.opencontainers.image.description="Human-in-the-loop face labeling: web, Celery workers, beat, Flower, migrate" \
      org.opencontainers.image.licenses="MIT"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/app \
    XDG_CACHE_HOME=/tmp/.cache \
    PP_STATE_DIR=/tmp/pp-state \
    PP_HEARTBEAT_FILE=/tmp/worker-heartbeat

# Non-root user (uid/gid 10001). /data is the mount point of the compose blob volume:
# created here and owned by the user so a fresh named volume inherits the ownership.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
 && mkdir -p /data/blobs \
 && chown -R 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv

WORKDIR /home/app
USER 10001:10001
EXPOSE 8000 9464 5555

CMD ["gunicorn", "-c", "python:visualization_web.gunicorn_conf", "--bind", "0.0.0.0:8000", "--bind", "0.0.0.0:9464", "visualization_web.app:create_app()"]
