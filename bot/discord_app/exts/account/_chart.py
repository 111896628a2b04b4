"""The /progress chart: scores over time, one line per topic (matplotlib's object API, no pyplot state)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from matplotlib.dates import DateFormatter, date2num
from matplotlib.figure import Figure

from bot.core.models import Attempt

MAX_TOPICS = 8  # more lines than this is unreadable; the rest are summed up in the embed


def progress_png(attempts: Sequence[Attempt], titles: dict[str, str]) -> bytes:
    """A PNG of graded scores (0-10) against time, per topic, oldest to newest."""
    by_topic: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for attempt in sorted(attempts, key=lambda a: a.created_at):
        if attempt.grade is not None:
            by_topic[attempt.topic].append((attempt.created_at, attempt.grade.score))
    busiest = sorted(by_topic, key=lambda t: len(by_topic[t]), reverse=True)[:MAX_TOPICS]
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.subplots()
    for topic in sorted(busiest):
        points = by_topic[topic]
        days = date2num([p[0] for p in points])  # type: ignore[no-untyped-call]
        axes.plot(days, [p[1] for p in points], marker="o", label=titles.get(topic, topic))
    axes.set_ylim(0, 10.5)
    axes.set_ylabel("score (0-10)")
    axes.set_title("Your scores over time")
    axes.grid(alpha=0.3)
    axes.xaxis.set_major_formatter(DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
    if busiest:
        axes.legend(loc="lower left", fontsize="small")
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
