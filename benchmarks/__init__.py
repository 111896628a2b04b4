"""Benchmarks: `python -m benchmarks.<name> [--json] [--quick]`; results in benchmarks/README.md."""
