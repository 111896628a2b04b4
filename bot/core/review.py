"""Spaced repetition with FSRS: each grade becomes a rating, and the card says when to ask again."""

from __future__ import annotations

from datetime import datetime, timedelta

import fsrs

# An interview question is not a flash card: skip FSRS's minute-long learning steps so the first review of a
# weak answer comes back the next day, bring a forgotten question back after one night (a relearning step),
# and keep intervals deterministic (no fuzz) so users and tests can predict them.
_SCHEDULER = fsrs.Scheduler(learning_steps=(), relearning_steps=(timedelta(hours=20),), enable_fuzzing=False)


def rating_for(score: float | None) -> fsrs.Rating:
    """Map a 0-10 grade (None = skipped or revealed) to an FSRS rating."""
    if score is None or score < 4.0:
        return fsrs.Rating.Again
    if score < 6.0:
        return fsrs.Rating.Hard
    if score < 8.5:
        return fsrs.Rating.Good
    return fsrs.Rating.Easy


def schedule(card: dict[str, object] | None, score: float | None, now: datetime) -> tuple[dict[str, object], datetime]:
    """Review `card` (a new card when None) with this score; returns the updated card and its next due time."""
    current = fsrs.Card.from_dict(card) if card else fsrs.Card()  # type: ignore[arg-type]
    updated, _log = _SCHEDULER.review_card(current, rating_for(score), now)
    return dict(updated.to_dict()), updated.due
