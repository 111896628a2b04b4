"""Embed splitting: whatever the content, every message respects Discord's limits and nothing is lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_app.embeds import DESCRIPTION_LIMIT, chunk_text, embed_fits, paginate, trim

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40)
texts = st.lists(words, max_size=800).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    description=texts,
    fields=st.lists(st.tuples(st.text(min_size=1, max_size=300), texts), max_size=40),
    footer=st.none() | st.text(max_size=3000),
)
def test_every_page_fits_in_one_message(description: str, fields: list[tuple[str, str]], footer: str | None) -> None:
    for embeds in paginate("A title " * 40, description=description, fields=fields, footer=footer):
        assert embeds
        assert embed_fits(embeds)


@settings(max_examples=60, deadline=None)
@given(texts)
def test_chunking_keeps_every_word(text: str) -> None:
    chunks = chunk_text(text, 1024)
    assert all(len(c) <= 1024 for c in chunks)
    assert "".join(text.split()) == "".join("".join(chunks).split())


def test_a_long_description_continues_in_further_embeds() -> None:
    pages = paginate("Feedback", description="word " * 3000)
    embeds = [e for page in pages for e in page]
    assert len(embeds) >= 4
    assert all(len(e.description or "") <= DESCRIPTION_LIMIT for e in embeds)
    assert embeds[1].title == "Feedback (cont.)"


def test_trim_marks_the_cut() -> None:
    assert trim("abcdef", 4) == "abc…"
    assert trim("abc", 4) == "abc"
