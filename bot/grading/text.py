"""Text helpers for grading: sentences, derived key points, stems and negations, degenerate answers."""

from __future__ import annotations

import functools
import json
import re
import unicodedata

from bot.core.models import WORD, count_words
from bot.grading.embeddings import TOKENIZER_FILE

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=:)\s*\n")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
MAX_DERIVED_POINTS = 6
# A reference this short is one claim: splitting it would grade half-sentences (SemEval-style references).
WHOLE_REFERENCE_MAX_WORDS = 30


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words carry no checkable content; removing them makes lexical overlap mean something.
STOPWORDS = _word_set(
    """
    a an the and or but if then else of to in on at by for with from into onto over under as is are was were be
    been being am do does did done have has had having it its it's this that these those there here which who
    whom whose what when where why how i me my we our you your he she they them their his her so than too very
    can could would should will shall may might must also just about because while such each any some all both
    more most other only own same s t one two get gets got make makes made use uses used using like eg ie etc
    """
)
NEGATIONS = _word_set(
    """
    not no never none nothing nobody neither nor cannot cant can't don't doesn't didn't isn't aren't wasn't
    weren't won't wouldn't shouldn't couldn't hasn't haven't hadn't without
    """
)
# Very common function words of languages other than English (that do not double as English words).
_FOREIGN_FUNCTION_WORDS = _word_set(
    """
    el los las del por para una unos con como pero que qué es está están son muy también porque cuando le les
    des du est sont une avec pour dans sur mais qui pas très aussi parce der die das und ist sind nicht ein eine
    einen mit für auf dem den zu auch wenn oder il lo gli della che sono non più anche perché os um uma não são
    com para mas também het een niet voor zijn ook maar dat
    """
)
_ENGLISH_FUNCTION_WORDS = _word_set(
    """
    the a an is are was were of to in and or that this it for with on by as be not can from which
    """
)


def split_sentences(text: str) -> list[str]:
    """Sentences and bullet items of an answer; long run-on sentences are also split at commas."""
    pieces: list[str] = []
    for raw in _SENTENCE_END.split(text):
        sentence = _BULLET.sub("", raw).strip()
        if count_words(sentence) == 0:
            continue
        if count_words(sentence) > 40:
            pieces.extend(part.strip() for part in re.split(r",\s+", sentence) if count_words(part) > 0)
        else:
            pieces.append(sentence)
    return pieces


def reference_sentences(reference_answer: str) -> list[str]:
    """The candidate points of a reference answer: the whole reference when it is short (one claim) or a single
    sentence, else its sentences of four or more words."""
    reference = " ".join(reference_answer.split())
    if not reference:
        return []
    sentences = [s for s in split_sentences(reference_answer) if count_words(s) >= 4]
    if count_words(reference) <= WHOLE_REFERENCE_MAX_WORDS or len(sentences) <= 1:
        return [reference]
    return sentences


def derive_key_points(reference_answer: str) -> list[str]:
    """Checkable points from a reference answer alone.

    A short reference (one claim, as in most short-answer data sets) is itself the point. A longer one gives its
    most informative sentences, in their original order.
    """
    sentences = reference_sentences(reference_answer)
    if len(sentences) <= MAX_DERIVED_POINTS:
        return sentences
    ranked = sorted(range(len(sentences)), key=lambda i: len(content_stems(sentences[i])), reverse=True)
    keep = sorted(ranked[:MAX_DERIVED_POINTS])
    return [sentences[i] for i in keep]


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def stem(word: str) -> str:
    """A deliberately crude suffix stripper: enough to match 'separated'/'separate' and 'gaps'/'gap'."""
    word = word.lower().replace("'", "")
    for suffix in ("ational", "ization", "ations", "ation", "ments", "ment", "ness", "ings", "ing", "edly", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    if word.endswith("e") and len(word) > 4:
        return word[:-1]
    return word


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry content (no function words, no negations)."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and w not in NEGATIONS}


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if len(w) > 2 and w not in STOPWORDS}


def is_negated(text: str) -> bool:
    return any(w in NEGATIONS or w.endswith("n't") for w in words(text))


_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_CODE_SYMBOLS = frozenset("=(){}[];<>^*/+_\\|#$")
KEYWORD_LIST_MIN_WORDS = 16
KEYWORD_LIST_FUNCTION_SHARE = 0.12


def _looks_like_code(line: str) -> bool:
    """A line of code or a formula ("softmax(QK^T / sqrt(d_k)) V"): it has few function words by nature."""
    visible = [c for c in line if not c.isspace()]
    return bool(visible) and sum(c in _CODE_SYMBOLS for c in visible) / len(visible) >= 0.08


def prose_words(text: str) -> list[str]:
    """The words of the answer's prose: code (fenced or inline) and lines of code or formulas left out."""
    prose = _CODE.sub(" ", text)
    return [w for line in prose.splitlines() if not _looks_like_code(line) for w in words(line)]


def looks_like_keyword_list(text: str) -> bool:
    """Keyword stuffing: a word salad of the subject's terms. English prose, even terse bullet points of real
    sentences, has a fifth or more function words ("the", "of", "is"...); a list of terms has almost none."""
    tokens = prose_words(text)
    if len(tokens) < KEYWORD_LIST_MIN_WORDS:
        return False
    function = sum(1 for w in tokens if w in STOPWORDS or w in NEGATIONS)
    return function / len(tokens) < KEYWORD_LIST_FUNCTION_SHARE


def latin_letter_ratio(text: str) -> float:
    """Share of letters that are Latin script: a low share means the answer is in another script."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return latin / len(letters)


def looks_foreign(text: str) -> bool:
    """A Latin-script answer in another language: its function words are not English ones."""
    tokens = words(text)
    if len(tokens) < 4:
        return False
    foreign = sum(1 for w in tokens if w in _FOREIGN_FUNCTION_WORDS)
    english = sum(1 for w in tokens if w in _ENGLISH_FUNCTION_WORDS)
    return foreign >= 2 and foreign > 2 * english


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary (about 21,000 English words)."""
    with TOKENIZER_FILE.open(encoding="utf-8") as handle:
        vocab: dict[str, int] = json.load(handle)["model"]["vocab"]
    return frozenset(token for token in vocab if token.isalpha() and not token.startswith("##"))


def unknown_word_ratio(text: str) -> float:
    """Share of (alphabetic, 3+ letter) words that are not words of the vocabulary; keyboard mashing is high."""
    vocabulary = _vocabulary()
    candidates = [w for w in words(text) if w.isalpha() and len(w) >= 3]
    if not candidates:
        return 0.0
    unknown = sum(1 for w in candidates if w not in vocabulary and stem(w) not in vocabulary)
    return unknown / len(candidates)


def looks_like_gibberish(text: str) -> bool:
    """Keyboard mashing or filler: non-words, consonant runs, or almost no distinct words."""
    tokens = [w for w in words(text) if w.isascii()]
    if not tokens:
        return False
    vowelless = sum(1 for w in tokens if len(w) > 3 and not re.search(r"[aeiouy]", w))
    consonant_runs = sum(1 for w in tokens if re.search(r"[bcdfghjklmnpqrstvwxz]{5,}", w))
    repeated = len(tokens) >= 6 and len(set(tokens)) <= max(2, len(tokens) // 5)
    long_enough = sum(1 for w in tokens if w.isalpha() and len(w) >= 3) >= 2
    mashing = long_enough and unknown_word_ratio(text) >= 0.75  # typos alone stay below this
    return (vowelless + consonant_runs) / len(tokens) > 0.4 or repeated or mashing
