"""Why the LLM could not grade: the service is down (fall back to offline) or its reply is unusable (fail)."""

from __future__ import annotations

from bot.core.errors import GraderUnavailableError


class LLMUnavailableError(GraderUnavailableError):
    """Timeouts, connection failures, rate limits and server errors that outlasted the SDK's retries."""


class LLMOutputError(GraderUnavailableError):
    """A refusal, a reply cut by the output limit, or output that stayed invalid after one re-ask."""
