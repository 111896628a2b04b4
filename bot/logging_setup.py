"""Logging configured once by the CLI: text by default, JSON lines for log collectors.

* Context ids: `log_context(session_id=..., user_id=..., guild_id=...)` (a context manager) or `bind_log_context`
  (for the rest of the current asyncio task) put ids into a `ContextVar`; every record logged inside carries them
  (as attributes, so `JsonFormatter` emits them as keys and the text format appends `key=value`).
* Redaction: `RedactingFilter` masks configured secrets (the Discord token, the API key) in the message, its
  arguments, the traceback and any string attribute of every record, before any formatter sees it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType

CONTEXT_FIELDS = ("session_id", "user_id", "guild_id", "attempt_id", "job_id", "worker_id", "shard_id", "error_id")
_CONTEXT_FIELDS = CONTEXT_FIELDS  # the name older modules import
REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mask ordinary words all over the log

_EMPTY: Mapping[str, object] = MappingProxyType({})
_log_context: ContextVar[Mapping[str, object]] = ContextVar("mockinterview_log_context", default=_EMPTY)

# Attributes every LogRecord has; anything else on a record came from `extra=` or a filter.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def current_log_context() -> dict[str, object]:
    return dict(_log_context.get())


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Within the block, every log record carries these ids (None values are left out); blocks nest."""
    token = _log_context.set({**_log_context.get(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _log_context.reset(token)


def bind_log_context(**ids: object) -> None:
    """Add ids for the rest of the current context (an asyncio task copies it: use it inside per-job tasks)."""
    _log_context.set({**_log_context.get(), **{k: v for k, v in ids.items() if v is not None}})


class ContextFilter(logging.Filter):
    """Copies the current context ids onto each record (an explicit `extra=` value wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _log_context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class RedactingFilter(logging.Filter):
    """Replaces every occurrence of a secret in a record with `[REDACTED]` (message, args, traceback, extras)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(
            {s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what we can, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # formatters print exc_text; the live traceback would bypass redaction
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def _context_of(record: logging.LogRecord) -> dict[str, object]:
    return {field: getattr(record, field) for field in CONTEXT_FIELDS if getattr(record, field, None) is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_context_of(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...` with the record's context ids."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = _context_of(record)
        if context:
            line += " " + " ".join(f"{key}={value}" for key, value in context.items())
        return line


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str | None] = ()) -> None:
    """One stderr handler on the root logger, with context ids and the given secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Chatty libraries: their INFO lines drown the bot's own (alembic.runtime.plugins: a line per plugin on every
    # migration). openai 3 sends through httpx2 (httpcore2), which logs under its own names. Held at WARNING at DEBUG
    # too, where two would log what must not be: discord.webhook each interaction callback's URL, which carries the
    # interaction's token, and aiosqlite every SQL statement with its parameters (candidates' answers).
    for noisy in (
        "discord.http",
        "discord.gateway",
        "discord.webhook",
        "httpx",
        "httpx2",
        "openai",
        "aiosqlite",
        "alembic.runtime.migration",
        "alembic.runtime.plugins",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
