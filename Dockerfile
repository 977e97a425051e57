# One image for every linli process: the embedded all-in-one mode by default,
# and the web, worker, clock and migrate processes of the distributed mode
# (docker-compose.yml picks the command).
FROM python:3.11-slim

# LINLI_DATA_DIR: the default ./.linli would land in the source tree, which
# the unprivileged user cannot write; keep embedded-mode state (SQLite files,
# the generated JWT key) where that user can, and where a volume can be mounted.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LINLI_DATA_DIR=/var/lib/linli

# A fixed uid/gid so that mounted volumes get predictable ownership.
RUN groupadd --system --gid 10001 linli \
    && useradd --system --uid 10001 --gid linli --no-create-home \
        --home-dir /var/lib/linli --shell /usr/sbin/nologin linli

WORKDIR /app
COPY . .

# Installed as root and used as linli: the application cannot rewrite its own
# code or dependencies.
RUN pip install --no-cache-dir . \
    && install -d -o linli -g linli -m 0750 /var/lib/linli

USER linli

EXPOSE 8000

CMD ["linli", "run", "--host", "0.0.0.0"]
