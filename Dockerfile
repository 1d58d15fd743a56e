# full-backup-reconciler: the CronJob image. Build from the repository root:
#   docker build -t full-backup-reconciler:0.1.0 .
FROM python:3.11.15-slim-bookworm

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# Dependencies first, from the exact pins the Makefile installs, so this layer is reused
# until requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Then the package itself; --no-deps: every dependency is already pinned and installed above.
# Built with a pinned setuptools (the one the Makefile uses), not whatever an isolated build
# environment would fetch that day.
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
RUN pip install --no-cache-dir setuptools==80.9.0
RUN pip install --no-cache-dir --no-deps --no-build-isolation .

# Runtime: no bytecode writes (the root filesystem is read-only in the CronJob), unbuffered
# logs, HOME in the one writable directory.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

WORKDIR /
# A numeric non-root user (no passwd entry needed), so runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["full-backup-reconciler"]
CMD ["--help"]
