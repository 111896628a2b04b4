"""Text helpers: derived key points, stems, other languages and gibberish."""

from __future__ import annotations

import pytest

from bot.grading.text import (
    content_stems,
    derive_key_points,
    is_negated,
    looks_foreign,
    looks_like_gibberish,
    split_sentences,
    stem,
)

LONG_REFERENCE = (
    "Retrieval-augmented generation retrieves passages relevant to the query from an index. "
    "The retrieved passages are inserted into the prompt as context for the language model. "
    "The model then answers grounded in that context, which reduces hallucination. "
    "Citations to the passages let a reader check every claim."
)


def test_a_short_one_sentence_reference_is_itself_the_only_key_point():
    assert derive_key_points("Terminal 1 and the positive terminal are separated by the gap") == [
        "Terminal 1 and the positive terminal are separated by the gap"
    ]


def test_a_short_two_sentence_reference_stays_one_point():
    reference = "The bulb is in a closed path. The battery is in that path too."
    assert derive_key_points(reference) == [reference]


def test_a_long_reference_gives_its_sentences_as_points_in_order():
    points = derive_key_points(LONG_REFERENCE)
    assert len(points) == 4
    assert points[0].startswith("Retrieval-augmented generation retrieves")
    assert points[-1].startswith("Citations")


def test_an_empty_reference_gives_no_points():
    assert derive_key_points("   ") == []


def test_split_sentences_handles_bullets_and_newlines():
    assert split_sentences("- first point here\n- second point here") == ["first point here", "second point here"]


@pytest.mark.parametrize(("word", "expected"), [("separated", "separat"), ("gaps", "gap"), ("batteries", "battery")])
def test_stem_strips_common_suffixes(word, expected):
    assert stem(word) == expected


def test_content_stems_drop_function_words_and_match_inflections():
    assert content_stems("The terminals are separated") == content_stems("terminal separate")


def test_negation_is_detected_including_contractions():
    assert is_negated("It doesn't converge")
    assert is_negated("there is no gap")
    assert not is_negated("there is a gap")


@pytest.mark.parametrize(
    "text",
    [
        "El generador crea imágenes falsas y el discriminador las clasifica como reales o falsas",
        "Der Generator erzeugt Bilder und der Diskriminator ist ein Klassifikator für echte Bilder",
    ],
    ids=["spanish", "german"],
)
def test_latin_script_answers_in_other_languages_look_foreign(text):
    assert looks_foreign(text)


def test_english_technical_answer_does_not_look_foreign():
    assert not looks_foreign("The generator maps noise to images and the discriminator classifies them as real or fake")


@pytest.mark.parametrize("text", ["asdkjh qwpeoiru zmxncbv", "sdfsdf sdfsdf sdfsdf sdfsdf sdfsdf sdfsdf", "jdkjgkfjg"])
def test_keyboard_mashing_is_gibberish(text):
    assert looks_like_gibberish(text)


@pytest.mark.parametrize("text", ["it completes teh crciut", "The discriminator overfits the training set."])
def test_typos_and_technical_words_are_not_gibberish(text):
    assert not looks_like_gibberish(text)
