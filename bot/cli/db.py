"""`mockinterview db upgrade`: apply database migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli._app import app, err_console, friendly_errors, load_settings

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@friendly_errors  # the database down or refusing us: one line saying so (bot.cli._app.database_unreachable)
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations to MOCKINTERVIEW_DATABASE_URL (created if missing)."""
    from alembic.util import CommandError

    from bot.storage.migrate import upgrade

    settings = load_settings()
    try:
        upgrade(settings.database_url, revision)
    except CommandError as exc:  # e.g. an unknown revision: alembic's message says which
        err_console.print(f"Can't upgrade the database: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    typer.echo(f"Database is at revision {revision}.")
