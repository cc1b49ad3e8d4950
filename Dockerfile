# arena-ledger's image: the `arena` command line (worker, topics, simulation, audit, ...) with its
# dependencies installed at build time from the pinned set (constraints.txt), run as a non-root user.
#
#   docker build -t arena-ledger .                                   # on python:3.11-slim
#   docker build --build-arg PYTHON_IMAGE=arena-python:3.11 -t arena-ledger .   # any Debian-like image with
#                                                                    # python3 3.11 and its venv module
#   docker run --rm arena-ledger --help
#
# The base image is a build argument so that a machine without access to Docker Hub can build on a local
# one (container/smoke.sh builds arena-python:3.11 from Debian packages). A mirror of PyPI is passed with
# --build-arg PIP_INDEX_URL=... (and PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST).
ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: a virtual environment in /opt/arena with the dependencies, then the project itself -------
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=120
WORKDIR /src
RUN python3 -m venv /opt/arena
# The dependencies in a layer of their own, from pyproject.toml's list pinned by constraints.txt: a change
# to the code does not download them again.
COPY pyproject.toml constraints.txt ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/arena/bin/pip install -r requirements.txt -c constraints.txt
COPY README.md ./
COPY schemas ./schemas
COPY producers ./producers
COPY streams ./streams
RUN /opt/arena/bin/pip install --no-deps . \
    && /opt/arena/bin/arena --help > /dev/null

# ---- run: the same base, the environment copied over, nothing to build or download at start ---------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/arena/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ARENA_WEB_PORT=6066
# The worker's state (.arena/worker) and the main job's reports live under /app, which the user owns.
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/arena --shell /usr/sbin/nologin arena \
    && mkdir -p /app/.arena /app/reports \
    && chown -R arena:arena /app
COPY --from=build /opt/arena /opt/arena
COPY container/healthcheck.py /usr/local/lib/arena/healthcheck.py
WORKDIR /app
USER arena
# The worker's endpoints: /ready, /health, /metrics, queries, the dashboard. They listen on the container's
# loopback unless ARENA_WEB_BIND says otherwise; any other bind needs ARENA_WEB_TOKEN (the worker refuses
# to start without one), and the health check sends it.
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "/usr/local/lib/arena/healthcheck.py"]
ENTRYPOINT ["arena"]
CMD ["worker"]
