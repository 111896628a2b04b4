"""Fakes of external services that the real clients talk to over loopback."""
