"""Discord's embed limits, and helpers that split or trim long content so a message is never rejected.

Limits (Discord API): title 256, description 4,096, 25 fields, field name 256, field value 1,024, footer 2,048,
author name 256, and 6,000 characters over all embeds of one message (at most 10 embeds). Long content is split
into continuation fields/embeds/messages ("see more" is simply the next page); nothing is silently lost except
where a caller asks for `trim`.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
MESSAGE_EMBED_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
ELLIPSIS = "…"


def trim(text: str, limit: int, suffix: str = ELLIPSIS) -> str:
    """`text` cut to at most `limit` characters, ending with `suffix` when it was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(suffix))].rstrip() + suffix


def chunk_text(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, preferring paragraph, line, then word breaks."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces or [""]


def escape(text: str) -> str:
    """User or model text shown inside an embed: markdown neutralised (mentions are blocked by allowed_mentions)."""
    return discord.utils.escape_markdown(text)


def paginate(
    title: str,
    *,
    description: str = "",
    fields: Sequence[tuple[str, str]] = (),
    colour: discord.Colour | None = None,
    footer: str | None = None,
) -> list[list[discord.Embed]]:
    """Embeds for `title`, `description` and `fields`, grouped into messages that each respect every limit.

    A description over 4,096 characters continues in further embeds; a field value over 1,024 continues in fields
    named "… (cont.)"; an embed holds at most 25 fields; a message holds at most 10 embeds and 6,000 characters.
    """
    title = trim(title, TITLE_LIMIT)
    footer_text = trim(footer, FOOTER_LIMIT) if footer else None
    budget = MESSAGE_EMBED_TOTAL - len(footer_text or "") - 100  # room for a continuation title

    embeds: list[discord.Embed] = []

    def new_embed(text: str = "") -> discord.Embed:
        embed = discord.Embed(
            title=title if not embeds else trim(f"{title} (cont.)", TITLE_LIMIT),
            description=text or None,
            colour=colour,
        )
        embeds.append(embed)
        return embed

    description_chunks = chunk_text(description, DESCRIPTION_LIMIT) if description else [""]
    current = new_embed(description_chunks[0])
    for chunk in description_chunks[1:]:
        current = new_embed(chunk)

    for raw_name, raw_value in fields:
        name = trim(raw_name, FIELD_NAME_LIMIT - len(" (cont.)")) or "\u200b"
        for index, value in enumerate(chunk_text(raw_value or "\u200b", FIELD_VALUE_LIMIT)):
            label = name if index == 0 else f"{name} (cont.)"
            size = len(label) + len(value)
            if len(current.fields) >= FIELD_COUNT_LIMIT or len(current) + size > budget:
                current = new_embed()
            current.add_field(name=label, value=value or "\u200b", inline=False)

    if footer_text:
        embeds[-1].set_footer(text=footer_text)
    return group_for_messages(embeds)


def group_for_messages(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    """Pack embeds into messages of at most 10 embeds and 6,000 characters each."""
    messages: list[list[discord.Embed]] = [[]]
    total = 0
    for embed in embeds:
        size = len(embed)
        if messages[-1] and (len(messages[-1]) >= EMBEDS_PER_MESSAGE or total + size > MESSAGE_EMBED_TOTAL):
            messages.append([])
            total = 0
        messages[-1].append(embed)
        total += size
    return messages


def embed_fits(embeds: Sequence[discord.Embed]) -> bool:
    """True when the embeds can go in one message (used by tests and as a last-line assertion)."""
    if len(embeds) > EMBEDS_PER_MESSAGE or sum(len(e) for e in embeds) > MESSAGE_EMBED_TOTAL:
        return False
    for embed in embeds:
        if len(embed.title or "") > TITLE_LIMIT or len(embed.description or "") > DESCRIPTION_LIMIT:
            return False
        if len(embed.fields) > FIELD_COUNT_LIMIT:
            return False
        for field in embed.fields:
            if len(field.name or "") > FIELD_NAME_LIMIT or len(field.value or "") > FIELD_VALUE_LIMIT:
                return False
    return True
