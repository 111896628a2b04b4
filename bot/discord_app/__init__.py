"""The Discord adapter: slash commands, persistent buttons, modals, DMs and private threads over `InterviewService`.

Nothing here grades or decides: it acknowledges interactions, calls the engine, and renders what it returns.
"""
