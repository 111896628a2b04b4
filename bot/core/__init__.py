"""The pure-Python core: bank, sessions, grading contracts, reports. No discord/openai/sqlalchemy imports."""
