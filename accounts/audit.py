"""The audit trail: one JSON line per security event, with who, from where and which session.

Never a token, a password or a password hash: events take only the fields named in FIELDS.
"""

import json
import logging
from datetime import UTC, datetime

logger = logging.getLogger("accounts.audit")

FIELDS = (
    "user",
    "username",
    "ip",
    "sid",
    "reason",
    "retry_after",
    "revoked",
    "kid",
    "issuer",
    "client",
    "kind",
    "attempts",
    "admin",
    "passkey",
    "sign_count",
)


def event(name: str, *, level: int = logging.INFO, **fields) -> None:
    """Log the audit event `name` with `fields` (each one of FIELDS)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:  # a programming error: refuse to log what was not meant to be logged
        raise ValueError(f"not audit fields: {sorted(unknown)}")
    logger.log(
        level, name, extra={"audit": {key: value for key, value in fields.items() if value is not None}}
    )


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "event": ..., <fields>}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **{key: _plain(value) for key, value in getattr(record, "audit", {}).items()},
        }
        return json.dumps(entry, ensure_ascii=False)


def _plain(value):
    return value if isinstance(value, (str, int, float, bool)) else str(value)
