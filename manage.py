#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        from accounts.operator import one_line  # an operator's mistake: one line, not a traceback

        message = one_line(exc)
        if message is None:
            raise
        sys.exit(f"manage.py: {message}")


if __name__ == "__main__":
    main()
