"""The Typer application, shared error handling and the per-invocation settings.

Every command module is imported to register its commands, so `mockinterview --help` pays for whatever they import
at the top: keep those imports to typer, rich and the core's models, and import the rest inside the command that
uses it (tests/test_cli.py checks it).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click
import typer
from rich.console import Console

from bot.core.errors import GraderUnavailableError, UserFacingError

if TYPE_CHECKING:
    from bot.settings import Settings

app = typer.Typer(
    name="mockinterview",
    help="Mock interviews for Generative-AI roles: practise in the terminal or run the Discord bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# soft_wrap: messages name files and settings; hard-wrapping at 80 columns would break a path across two lines.
err_console = Console(stderr=True, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")


def setting_variable(field: str) -> str:
    """The environment variable (or `.env` line) that sets the settings field `field`."""
    from pydantic import AliasChoices

    from bot.settings import Settings

    info = Settings.model_fields.get(field)
    if info is None:  # already an alias (DISCORD_TOKEN), or not a field
        return field
    alias = info.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def _error_location(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "settings"
    inside = ".".join(map(str, loc[1:]))
    return setting_variable(str(loc[0])) + (f" ({inside})" if inside else "")


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a clear message naming its variable, never a traceback (and
    never the value: it may be a secret)."""
    import json
    import re

    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from bot.logging_setup import configure_logging
    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        lines = [
            f"  {_error_location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        ]
        err_console.print("Invalid configuration:\n" + "\n".join(lines), markup=False, highlight=False)
        raise typer.Exit(2) from None
    except SettingsError as exc:  # a complex value (MOCKINTERVIEW_PRICES) that isn't JSON, before validation
        field = re.search(r'field "(\w+)"', str(exc))
        cause = exc.__cause__
        problem = f"not valid JSON ({cause})" if isinstance(cause, json.JSONDecodeError) else "could not be parsed"
        where = setting_variable(field[1]) if field else "settings"
        err_console.print(f"Invalid configuration:\n  {where}: {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secret_values())
    return settings


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the project's user-facing errors into a message and exit code 1 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserFacingError as exc:
            err_console.print(exc.message, markup=False, highlight=False)
            raise typer.Exit(1) from None
        except GraderUnavailableError as exc:
            # The reason is ours and safe; the chained provider error may echo secrets (a 401 repeating the key).
            err_console.print(f"Grading failed: {exc.reason}", markup=False, highlight=False)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, typer.TyperException, click.exceptions.Exit, click.ClickException):
            raise
        except Exception:
            # Through logging, so the traceback passes the secret-redaction filter instead of raw stderr.
            logging.getLogger("bot.cli").exception("mockinterview failed with an unexpected error")
            err_console.print("Unexpected error; the details are in the log above.", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
