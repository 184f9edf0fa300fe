# syntax=docker/dockerfile:1
# One image for every nbprod process of a deployment: the service (default command), the
# monitor (`nbprod monitor`), the dashboards (`nbprod dashboard --host 0.0.0.0 --no-browser`)
# and one pipeline task (`nbprod task NAME`). Build:  docker build -t nbprod:latest .
# The dependencies are the locked ones (requirements.lock, hashes checked); regenerate the lock
# after changing pyproject.toml's dependencies with the command at the top of requirements.lock.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build stage: a virtualenv with the locked dependencies and nbprod itself ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY jupyter-config ./jupyter-config
COPY src ./src
# --no-deps: every dependency came from the lock above; a wheel build, not editable (the
# data-files that switch Ploomber's server extension off are installed only this way)
RUN /opt/venv/bin/pip install --no-deps . \
    && find /opt/venv -name "__pycache__" -type d -prune -exec rm -rf {} +

# -- final stage: the virtualenv and the project files, no compilers, no pip cache ----------
FROM ${PYTHON_IMAGE}
ARG UID=10001
# serve.port of env.yaml (the service listens there; the HEALTHCHECK asks there)
ARG PORT=8765
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    NBPROD_PORT=${PORT}
RUN groupadd --gid "${UID}" nbprod \
    && useradd --uid "${UID}" --gid "${UID}" --create-home --shell /usr/sbin/nologin nbprod
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# the project: settings, pipeline, notebooks and schemas (read-only); products, reports and the
# default SQLite store are written under /app by the nbprod user (mount volumes there in a cluster)
COPY env.yaml pipeline.yaml ./
COPY notebooks ./notebooks
COPY schemas ./schemas
RUN chown "${UID}:${UID}" /app
USER ${UID}:${UID}
EXPOSE ${PORT}
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['NBPROD_PORT'] + '/health', timeout=4)"]
ENTRYPOINT ["nbprod"]
# beyond loopback the service needs its token (NBPROD_TOKEN, serve.token_env) or `--insecure`
CMD ["serve", "--host", "0.0.0.0"]
