# Gatescope: a small image that serves the site on 0.0.0.0:8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 \
    GATESCOPE_DATA_DIR=/data

WORKDIR /app
# The dependencies first, in a layer of their own that a change to the code does not rebuild.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py \
    && pip install --no-cache-dir '.[postgres]' && pip uninstall -y gatescope \
    && useradd --create-home --uid 10001 gatescope \
    && mkdir -p /data && chown gatescope /data
# Then the package, with its page (app/static, app/templates) and trained models inside it.
COPY app ./app
RUN pip install --no-cache-dir --no-deps .

USER gatescope
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# As make run: at most 200 connections at once, idle keep-alive closed after 5 s (see README).
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--limit-concurrency", "200", "--timeout-keep-alive", "5"]
