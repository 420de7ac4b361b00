# optadvisor HTTP service. Build: podman/docker build -t optadvisor . (BASE overridable for offline builds)
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    OPTADVISOR_HOST=0.0.0.0 \
    OPTADVISOR_PORT=8000 \
    OPTADVISOR_DATABASE_URL=sqlite:////data/optadvisor.db \
    MALLOC_MMAP_THRESHOLD_=33554432 \
    MALLOC_TRIM_THRESHOLD_=67108864
# glibc reads MALLOC_* only when a process starts: these match OPTADVISOR_MALLOC_KEEP_FREED_BYTES'
# default (service/allocator.py), so `optadvisor serve` starts without restarting itself.

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY optadvisor ./optadvisor
COPY optimizers ./optimizers
COPY profiler ./profiler
COPY rules ./rules
COPY service ./service
COPY client ./client
# constraints.txt pins the CPU build of torch.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt '.[server]' \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin optadvisor \
    && mkdir /data && chown optadvisor /data

# Studies live here (SQLite in WAL mode); mount a volume to keep them across containers, or point
# OPTADVISOR_DATABASE_URL at PostgreSQL.
VOLUME /data

USER optadvisor
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('OPTADVISOR_PORT', '8000'), timeout=4)"]
# Exec form: uvicorn is PID 1 and receives SIGTERM for a graceful shutdown.
CMD ["optadvisor", "serve"]
