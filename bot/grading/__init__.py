"""Graders: the offline embedding grader and (in `bot.llm`) the LLM grader, both implementing `core.ports.Grader`."""
