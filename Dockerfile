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
# Versions and sha256 hashes come from requirements/*.txt (`make lock`); pip refuses
# anything else (--require-hashes).
# Build: make image   (buildah, or docker build where a Docker engine runs; scripts/image/build.sh)
#    or: docker build -t persona-pipeline:0.1.0 .   (or: az acr build -r <acr> -t persona-pipeline:0.1.0 .)
# Without Docker Hub: --build-arg PYTHON_IMAGE=<the local base of scripts/image/base.sh>.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# 1. the locked dependencies, binary wheels only except the pure-Python model package, built
#    with the locked setuptools (no build isolation: nothing unhashed is fetched); its own layer,
#    so a code change does not reinstall them. The 68-point landmark model (100 MB) goes: only
#    the 5-point one, the ResNet embedder and the CNN detector are used.
COPY requirements/build.txt requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/build.txt \
 && pip install --require-hashes --no-build-isolation --use-pep517 --only-binary=:all: --no-binary=face-recognition-models \
        -r requirements/runtime.txt \
 && python -W ignore -c "import os, face_recognition_models as m; os.remove(m.pose_predictor_model_location())"

# 2. the project as a wheel, installed without dependencies (they are all there); wheel and pip,
#    build tools only, leave the virtualenv (setuptools stays: face-recognition-models needs pkg_resources).
COPY pyproject.toml README.md ./
COPY common ./common
COPY input_worker ./input_worker
COPY trainer_worker ./trainer_worker
COPY visualization_web ./visualization_web
COPY orchestration_driver ./orchestration_driver
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && pip install --no-deps /wheels/*.whl \
 && pip uninstall --yes wheel \
 && pip check \
 && python -W ignore -c "import dlib, face_recognition_models, cassandra, celery, flask, gunicorn, flower; print('dlib', dlib.__version__)" \
 && persona-pipeline --help >/dev/null \
 && pip uninstall --yes pip

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
