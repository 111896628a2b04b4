"""The LLM grader: prompts, output schema, token accounting and the OpenAI-compatible client.

Only the composition root (`bot.wiring`) imports this package; `bot.core` never does.
"""
