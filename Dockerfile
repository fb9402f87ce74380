# The API image (default target, `runtime`) and the scheduled jobs' image (target `scheduler`), both from
# the wheel (docs/packaging.md) and the hashed lock; no test tooling, no secrets, no checkout.
#
#   docker build -t shanxi-pension .                                    # the API
#   docker build --target scheduler -t shanxi-pension-scheduler .       # crond + deploy/crontab
#
# APP_ENV is not set here: production refuses to start without it outside the checkout, so whoever runs
# the image says it (compose.yaml: APP_ENV=production), together with the secrets (.env.example).
# For builds that can be repeated byte for byte, pin the base image by digest (python:3.11-slim@sha256:...).
# A PyPI mirror (e.g. inside mainland China): --build-arg PIP_INDEX_URL=https://<mirror>/pypi/simple/ ; the
# lock's hashes still decide which files are accepted.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /dist .


FROM ${PYTHON_IMAGE} AS base
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /app
WORKDIR /app
# Every dependency pinned with its hashes; pip refuses any other file.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=builder /dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist
COPY gunicorn.conf.py /app/gunicorn.conf.py


# The scheduled jobs: busybox crond (Debian's busybox-static) runs deploy/crontab in Asia/Shanghai time.
# crond itself runs as root because it switches to the crontab's user: every job runs as `app`.
FROM base AS scheduler
COPY deploy/run-job deploy/crontab /tmp/deploy/
RUN apt-get update \
    && apt-get install -y --no-install-recommends busybox-static tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && install -D -m 0755 /tmp/deploy/run-job /app/deploy/run-job \
    && install -D -m 0644 -o root -g root /tmp/deploy/crontab /etc/crontabs/app \
    && rm -rf /tmp/deploy
ENV TZ=Asia/Shanghai
HEALTHCHECK NONE
CMD ["busybox", "crond", "-f", "-l", "8", "-L", "/dev/stderr", "-c", "/etc/crontabs"]


FROM base AS runtime
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '8000'), timeout=4)"]
CMD ["gunicorn", "-c", "/app/gunicorn.conf.py", "miniapp_api:create_app()"]
