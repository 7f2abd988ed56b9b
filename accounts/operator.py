"""What an operator's common mistakes look like: one line that says what to do, not a traceback.

Used by manage.py (every management command) and by gunicorn.conf.py (before any worker boots):
a setting that is missing or wrong, a database that was never migrated or does not answer.
Anything else is a bug and keeps its traceback.
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import SystemCheckError
from django.db import DatabaseError, IntegrityError


def one_line(exc: BaseException, *, command: str | None = None) -> str | None:
    """The line for `exc` when it is an operator's mistake; None for anything else. A database
    error of `migrate` itself is never explained away as pending migrations."""
    if isinstance(exc, ImproperlyConfigured):
        return f"configuration: {exc}"
    if isinstance(exc, SystemCheckError):
        return " ".join(str(exc).split())
    if isinstance(exc, DatabaseError) and not isinstance(exc, IntegrityError) and command != "migrate":
        return _database_problem(exc)
    return None


def _database_problem(exc: DatabaseError) -> str | None:
    from accounts.health import not_migrated, pending_migrations

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        pending = pending_migrations()
    except DatabaseError:
        return f"the database (DATABASE_URL) does not answer: {first}"
    if pending:
        return f"{not_migrated(pending)} ({first})"
    return None


def boot_problem() -> str | None:
    """Before a server's workers start: load the settings and run the start-up checks once
    (accounts.checks.start_up), returning the line that says why it cannot start, or None."""
    try:
        import django
        from django.db import connections

        django.setup()
        from accounts.checks import start_up

        try:
            start_up()
        finally:
            connections.close_all()  # no connection may be shared with the forked workers
    except Exception as exc:
        message = one_line(exc)
        if message is None:
            raise
        return message
    return None
