# syntax=docker/dockerfile:1
# Two stages: build a virtualenv with the wheel installed, then copy only the venv into a slim runtime.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies change less often than the code: copy the project metadata first for layer caching.
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY prompts ./prompts
COPY question_bank ./question_bank
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim AS runtime
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="mock-interviewer" \
      org.opencontainers.image.revision="${GIT_SHA}"
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin interviewer \
    && mkdir -p /data \
    && chown interviewer:interviewer /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    GIT_SHA="${GIT_SHA}" \
    MOCKINTERVIEW_DATABASE_URL="sqlite+aiosqlite:////data/interview.db"
USER 10001
WORKDIR /data
VOLUME ["/data"]
# Secrets (DISCORD_TOKEN, OPENAI_API_KEY) come from the environment only, never from the image.
CMD ["mockinterview", "run"]
