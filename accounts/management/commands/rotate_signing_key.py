"""Make a new active key for access tokens; the old one stays published until its tokens expire."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts import keys


class Command(BaseCommand):
    help = (
        "Generate the next signing key for access tokens: published now, signing after "
        "SIGNING_KEY_PREPUBLISH_SECONDS (or at once with --now). The old key stays in the JWKS "
        "until the tokens it signed have expired."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--now",
            action="store_true",
            help="Sign with the new key at once (resource servers may not know it yet).",
        )

    def handle(self, *args, **options) -> None:
        try:
            row = keys.rotate(immediately=options["now"])
        except ImproperlyConfigured as e:
            raise CommandError(str(e)) from None
        except IntegrityError:
            raise CommandError(
                "Another rotation made its key active at the same moment: run it again."
            ) from None
        when = "now" if row.active else f"at {row.activates_at:%Y-%m-%d %H:%M:%S} UTC"
        self.stdout.write(self.style.SUCCESS(f"New signing key {row.kid} ({row.algorithm}), signing {when}."))
