"""What study rounds, daily questions and leaderboards look like. Nothing here shows a member's answer text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.core.custom_bank import public_name
from bot.core.guild_settings import GuildSettings
from bot.core.models import LeaderboardEntry, Question, Streak
from bot.core.study import QuestionResults, Ranked, StudyRound
from bot.discord_app.embeds import escape, paginate, trim

Pages = list[list[discord.Embed]]
BLURPLE = discord.Colour.blurple()
GREEN = discord.Colour.green()
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


def _mention(user_id: int) -> str:
    return f"<@{user_id}>"  # shown as a name; allowed_mentions none means nobody is pinged


def _ranking(rows: Sequence[Ranked], limit: int = 20) -> str:
    lines = [
        f"{MEDALS.get(r.rank, f'#{r.rank}')} {_mention(r.user_id)} · **{r.score:.1f}** · {r.elapsed_s:.0f} s"
        for r in rows[:limit]
    ]
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit} more")
    return "\n".join(lines) or "Nobody was graded."


def _coverage_mark(missed_share: float) -> str:
    return "❌" if missed_share >= 0.5 else "🟡" if missed_share > 0 else "✅"


def round_question(round_: StudyRound, question: Question, *, now: datetime) -> Pages:
    deadline = round_.deadline or now
    return paginate(
        f"Study round · question {round_.number} of {round_.total}",
        description=(
            f"{question.question}\n\nPress **Answer** to answer privately. Time is up "
            f"{discord.utils.format_dt(deadline, 'R')} ({round_.seconds} s)."
        ),
        fields=[("Topic", public_name(question.topic)), ("Difficulty", question.difficulty.value.title())],
        colour=BLURPLE,
        footer=f"round #{round_.id} · host controls: Next, Pause, End",
    )


def _round_status(round_: StudyRound, question: Question, status: str, note: str) -> Pages:
    """The round's question message once answering stops: its status in the title and what happens next."""
    return paginate(
        f"Study round · question {round_.number} of {round_.total} · {status}",
        description=f"{question.question}\n\n{note}",
        colour=BLURPLE,
        footer=f"round #{round_.id}",
    )


def round_closed(round_: StudyRound, question: Question, answered: int) -> Pages:
    return _round_status(round_, question, "time's up", f"{answered} answer(s) in. Grading them; the results follow.")


def round_over(round_: StudyRound, question: Question) -> Pages:
    return _round_status(round_, question, "round over", "This round has ended; see the standings below.")


def round_paused(round_: StudyRound, question: Question) -> Pages:
    return _round_status(round_, question, "paused", "The host paused the round; the timer is stopped.")


def results(title: str, question: Question, outcome: QuestionResults) -> Pages:
    """Who answered, the class's key-point coverage (most missed first), the reference answer and the ranking."""
    answered = ", ".join(_mention(u) for u in outcome.answered[:40]) or "Nobody answered."
    if len(outcome.answered) > 40:
        answered += f" and {len(outcome.answered) - 40} more"
    coverage = "\n".join(
        f"{_coverage_mark(row.missed_share)} {escape(trim(row.key_point, 150))}"
        f" — missed by {row.missed + row.partial / 2:g} of {row.graded}"
        for row in outcome.coverage
    )
    fields = [
        (f"Answered ({len(outcome.answered)})", answered),
        ("Class coverage (most missed first)", coverage if outcome.ranking else "No graded answers."),
        ("Ranking (score, then time)", _ranking(outcome.ranking)),
        ("Reference answer", question.reference_answer),
    ]
    note = f" · {outcome.pending} answer(s) not graded" if outcome.pending else ""
    return paginate(
        title,
        description=f"*{trim(question.question, 400)}*",
        fields=fields,
        colour=GREEN,
        footer=f"{public_name(question.id)}{note} · answers stay private",
    )


def standings(round_: StudyRound, rows: Sequence[Ranked]) -> Pages:
    return paginate(
        "Study round · final standings",
        description=f"{round_.total} question(s). Total score, then total time.",
        fields=[
            (
                "Standings",
                "\n".join(
                    f"{MEDALS.get(r.rank, f'#{r.rank}')} {_mention(r.user_id)} · **{r.score:.1f}** · "
                    f"{r.answered} answered · {r.elapsed_s:.0f} s"
                    for r in rows[:25]
                )
                or "Nobody was graded.",
            )
        ],
        colour=GREEN,
        footer=f"round #{round_.id} · see /leaderboard",
    )


def daily_question(question: Question, day: str) -> Pages:
    return paginate(
        f"Daily question · {day}",
        description=f"{question.question}\n\nPress **Answer** to answer privately; the summary comes tomorrow.",
        fields=[("Topic", public_name(question.topic)), ("Difficulty", question.difficulty.value.title())],
        colour=BLURPLE,
        footer=public_name(question.id),
    )


def leaderboard(title: str, entries: Sequence[LeaderboardEntry], streak: Streak | None) -> Pages:
    lines = [
        f"{MEDALS.get(e.rank, f'#{e.rank}')} {_mention(e.user_id)} · **{e.points:g}** pts · "
        f"{e.questions} question(s) · best avg {e.average_best:.1f}"
        for e in entries
    ]
    fields = []
    if streak is not None:
        fields.append(("Your streak", f"{streak.current} day(s) (longest {streak.longest}, {streak.timezone})"))
    return paginate(
        title,
        description="\n".join(lines) or "No graded answers in this period yet.",
        fields=fields,
        colour=BLURPLE,
        footer="1 point per question answered + your best score on it (repeats don't add up)",
    )


def settings_pages(settings: GuildSettings) -> Pages:
    daily = settings.daily
    return paginate(
        "Server settings",
        fields=[
            ("Allowed topics", ", ".join(public_name(t) for t in settings.allowed_topics) or "all"),
            ("Default difficulty", settings.default_difficulty.value if settings.default_difficulty else "any"),
            ("Members may share feedback publicly", "yes" if settings.public_feedback else "no"),
            ("AI-graded answers per member a day", str(settings.llm_quota_per_member or "bot default")),
            ("AI-graded answers a day, whole server", str(settings.llm_daily_guild_quota or "no limit")),
            ("Timezone", settings.timezone),
            (
                "Daily question",
                f"<#{daily.channel_id}> at {daily.time} ({daily.timezone})" if daily else "off",
            ),
        ],
        colour=BLURPLE,
    )
