"""Whether this process can serve: the database answers and its schema is the code's.

One rule for /healthz (answered by HealthCheckMiddleware, whatever the Host header, since load
balancers probe by address) and for start-up (accounts.checks.start_up refuses to serve while
migrations are pending).
"""

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

MIGRATE_COMMAND = "python manage.py migrate"

# Databases seen with every migration applied: a running process's code does not change, so
# once its migrations are applied they stay applied (and the check is not paid again).
_migrated: set[str] = set()


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The migrations of this code not applied to the database, as `app.name`; raises DatabaseError."""
    if alias in _migrated:
        return []
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    if not pending:
        _migrated.add(alias)
    return pending


def not_migrated(pending: list[str]) -> str:
    """The one wording of "the database lacks migrations", for /healthz, gunicorn and manage.py."""
    shown = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
    return f"{len(pending)} migration(s) not applied ({shown}): run `{MIGRATE_COMMAND}` first."


def health() -> tuple[bool, dict]:
    """(healthy, body): the database answers and no migration is pending."""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = pending_migrations()
    except DatabaseError:
        return False, {"status": "unavailable", "detail": "The database does not answer."}
    if pending:
        return False, {
            "status": "unavailable",
            "detail": not_migrated(pending),
        }
    return True, {"status": "ok"}


def forget() -> None:
    """Check the migrations again at the next call (tests)."""
    _migrated.clear()
