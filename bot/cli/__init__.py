"""The `mockinterview` command line. Each command group lives in its own module and registers itself on `app`."""

from __future__ import annotations

import importlib
import pkgutil

from bot.cli._app import app

# Every public module of this package defines commands; importing it registers them on `app`.
for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    app()
