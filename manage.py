#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")
    # The checkout's development settings (make setup writes them), for commands run here; the
    # settings never read it when DJANGO_DEBUG=0 is set, and servers never name it.
    os.environ.setdefault("DJANGO_ENV_FILE", str(Path(__file__).resolve().parent / ".env"))
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        from accounts.operator import one_line  # an operator's mistake: one line, not a traceback

        message = one_line(exc, command=sys.argv[1] if len(sys.argv) > 1 else None)
        if message is None:
            raise
        sys.exit(f"manage.py: {message}")


if __name__ == "__main__":
    main()
