"""The Typer application, shared error handling and the per-invocation settings.

Every command module is imported to register its commands, so `mockinterview --help` pays for whatever they import
at the top: keep those imports to typer, rich and the core's models, and import the rest inside the command that
uses it (tests/test_cli.py checks it).
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(130)  # what Ctrl-C exits with once the command runs (click), without a traceback


def _launched_as_cli() -> bool:
    """Whether this process is `mockinterview` (or `python -m bot`), not a program or a test importing the CLI."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return argv0.stem == "mockinterview" or argv0.parts[-2:] == ("bot", "__main__.py")


# Ctrl-C in the second or so the command line takes to import (before any command runs, long before the worker or the
# bot installs its SIGINT handler) raised KeyboardInterrupt from the middle of some import: a traceback. Until the
# CLI starts (`_App.__call__` puts Python's own handler back, so commands see KeyboardInterrupt as ever), it exits 130
# quietly instead.
if (
    _launched_as_cli()
    and threading.current_thread() is threading.main_thread()
    and signal.getsignal(signal.SIGINT) is signal.default_int_handler
):
    signal.signal(signal.SIGINT, _exit_quietly)

# After the handler: these imports (pydantic's among them) are a good part of that time.
import click  # noqa: E402
import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from bot.core.errors import GraderUnavailableError, UserFacingError  # noqa: E402

if TYPE_CHECKING:
    from bot.settings import Settings


class _App(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - typer's own signature
        if signal.getsignal(signal.SIGINT) is _exit_quietly:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return super().__call__(*args, **kwargs)


app = _App(
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
    _redact[:] = [*settings.secret_values(), *_database_password(settings.database_url)]
    return settings


# SQLSTATE classes that mean the database can't be used at all: connection exception (08), invalid authorization
# (28: no such role, wrong password), invalid catalog name (3D: no such database), insufficient resources (53),
# operator intervention (57: shutting down), system error (58).
_UNREACHABLE_SQLSTATES = frozenset({"08", "28", "3D", "53", "57", "58"})
_DATABASE_MODULES = ("asyncpg", "aiosqlite", "sqlalchemy", "alembic", "bot.storage")
_redact: list[str] = []  # the loaded settings' secrets and database password, kept out of the messages below


def database_unreachable(exc: BaseException) -> str | None:
    """The one-line reason when `exc` says the database is down, refuses us or doesn't exist; None otherwise."""
    sql_errors = sys.modules.get("sqlalchemy.exc")
    if sql_errors is None:  # no database was opened
        return None
    if isinstance(exc, sql_errors.DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if not (
            isinstance(exc, sql_errors.OperationalError | sql_errors.InterfaceError)
            or exc.connection_invalidated
            or (isinstance(sqlstate, str) and sqlstate[:2] in _UNREACHABLE_SQLSTATES)
        ):
            return None
        cause: BaseException = exc.orig if exc.orig is not None else exc
    elif isinstance(exc, OSError) and _raised_in(exc, _DATABASE_MODULES):  # refused, unknown host, timed out
        cause = exc
    else:
        return None
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    for secret in _redact:
        reason = reason.replace(secret, "***")
    return reason


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """Whether the innermost frame of `exc`'s traceback outside the standard library (asyncio's sockets, uvloop)
    belongs to `modules`: the code that was connecting, not a context manager the error merely passed through."""
    innermost = ""
    tb = exc.__traceback__
    while tb is not None:
        name = str(tb.tb_frame.f_globals.get("__name__", ""))
        if name.partition(".")[0] not in sys.stdlib_module_names and not name.startswith("uvloop"):
            innermost = name
        tb = tb.tb_next
    return innermost.startswith(modules)


def _database_password(url: str) -> list[str]:
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [p for p in {password, unquote(password)} if p] if password else []


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
        except Exception as exc:
            reason = database_unreachable(exc)
            if reason is not None:
                err_console.print(
                    f"Can't reach the database (MOCKINTERVIEW_DATABASE_URL): {reason}", markup=False, highlight=False
                )
                raise typer.Exit(1) from None
            # Through logging, so the traceback passes the secret-redaction filter instead of raw stderr.
            logging.getLogger("bot.cli").exception("mockinterview failed with an unexpected error")
            err_console.print("Unexpected error; the details are in the log above.", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
