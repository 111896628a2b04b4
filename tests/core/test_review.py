"""FSRS scheduling from grades: weak answers come back soon, strong ones much later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fsrs
import pytest

from bot.core.review import rating_for, schedule

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (None, fsrs.Rating.Again),
        (0, fsrs.Rating.Again),
        (3.9, fsrs.Rating.Again),
        (4, fsrs.Rating.Hard),
        (5.9, fsrs.Rating.Hard),
        (6, fsrs.Rating.Good),
        (8.4, fsrs.Rating.Good),
        (8.5, fsrs.Rating.Easy),
        (10, fsrs.Rating.Easy),
    ],
)
def test_score_to_rating(score, rating):
    assert rating_for(score) == rating


def test_first_review_intervals_grow_with_the_score():
    dues = [schedule(None, score, NOW)[1] for score in (1, 5, 7, 9.5)]
    assert dues == sorted(dues)
    assert NOW < dues[0] <= NOW + timedelta(days=1)  # a failed answer is due again by tomorrow
    assert dues[-1] - NOW >= timedelta(days=5)


def test_repeated_success_spaces_reviews_further_apart():
    card, first_due = schedule(None, 8, NOW)
    card, second_due = schedule(card, 8, first_due)
    assert second_due - first_due > first_due - NOW


def test_a_lapse_brings_the_question_back_soon():
    card, due = schedule(None, 9, NOW)
    card, due = schedule(card, 9, due)
    _, lapsed_due = schedule(card, 1, due)
    assert lapsed_due - due <= timedelta(days=1)


def test_card_is_json_serialisable():
    import json

    card, _ = schedule(None, 6, NOW)
    assert json.loads(json.dumps(card)) == card
