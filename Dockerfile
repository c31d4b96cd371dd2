# Gatescope: a small image that serves the site on 0.0.0.0:8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 \
    GATESCOPE_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
# Installs the dependencies; the app itself runs from /app (--app-dir), beside static/ and templates/.
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 gatescope \
    && mkdir -p /data && chown gatescope /data
COPY static ./static
COPY templates ./templates

USER gatescope
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["uvicorn", "app.main:app", "--app-dir", "/app", "--host", "0.0.0.0", "--port", "8000"]
