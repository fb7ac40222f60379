# Production image: gunicorn managing one uvicorn worker per CPU, DEBUG off.
#   docker build -t async-views .
#   docker run -p 8000:8000 -e DJANGO_SECRET_KEY=... -e DJANGO_ALLOWED_HOSTS=example.com async-views
# TLS is expected to end at a proxy that sets X-Forwarded-Proto; set DJANGO_HTTPS=0
# to try the image over plain HTTP.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_DEBUG=0 \
    PORT=8000

RUN useradd --create-home --uid 1000 app
WORKDIR /app

# Dependencies in their own layer: rebuilt only when requirements.txt or the
# lean ASGI package (installed from its folder) changes.
COPY requirements.txt .
COPY leanasgi leanasgi
RUN pip install -r requirements.txt

COPY --chown=1000:1000 . .
# collectstatic imports the settings, which refuse DEBUG off without a key.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

USER 1000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["python", "-m", "deploy.healthcheck"]

# Gunicorn binds 0.0.0.0:$PORT. The SQLite default lives in the container;
# set DATABASE_URL for a real database.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn mysite.asgi:application -k uvicorn_worker.UvicornWorker --workers \"${WEB_CONCURRENCY:-$(nproc)}\""]
