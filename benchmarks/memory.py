"""Resident memory of the bot: idle with the offline model loaded, then with 1,000 active sessions.

    python -m benchmarks.memory [--json] [--quick] [--sessions N]

The real bot (`python -m bot run`, offline grader, SQLite) against the loopback Discord. One candidate answers one
question first, so the offline model is loaded and has graded (not timed); then `rss_idle_mb` is read from
/proc/<pid>/status. Then 1,000 candidates each start `/practice` in their DM and press Answer, so each has a session
with a question on screen and an answer modal open (the state the bot keeps per candidate), and
`rss_1000_sessions_mb` is read.

Targets: `rss_idle_mb` <= 400 MB, `rss_1000_sessions_mb` <= idle + 50 MB. `--quick`: 50 sessions (seconds, for CI).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from typing import Any

from benchmarks._bot import running_bot
from benchmarks.ack import BOT_ENV, show

SESSIONS = 1_000


async def run(sessions: int) -> dict[str, Any]:
    async with running_bot(grader="offline", env=BOT_ENV) as bot:
        warm = await bot.prepare(1)
        report = await bot.submit_all(warm, feedback_timeout=60.0)
        if report.feedback_delivered != 1:
            raise RuntimeError("the warm-up answer got no feedback")
        await asyncio.sleep(1.0)  # let the bot settle
        idle = bot.rss_mb()
        await bot.prepare(sessions, parallel=25)
        gc.collect()
        await asyncio.sleep(1.0)
        active = bot.rss_mb()
        bot.check_alive()
    return {
        "sessions": sessions,
        "rss_idle_mb": round(idle, 1),
        "rss_1000_sessions_mb": round(active, 1),
        "growth_mb": round(active - idle, 1),
        "kb_per_session": round(1024 * (active - idle) / max(sessions, 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="50 sessions; finishes in seconds")
    parser.add_argument("--sessions", type=int, default=None)
    args = parser.parse_args()
    sessions = args.sessions or (50 if args.quick else SESSIONS)
    figures = asyncio.run(run(sessions))
    figures["quick"] = args.quick
    if args.json:
        print(json.dumps(figures))
        return
    print(f"memory: the bot idle with the offline model, then {sessions} active sessions")
    show(figures, {"rss_idle_mb": ("<=", 400.0), "growth_mb": ("<=", 50.0)})
    if args.quick:
        print("(--quick: few sessions; the targets apply to the full run)", file=sys.stderr)


if __name__ == "__main__":
    main()
