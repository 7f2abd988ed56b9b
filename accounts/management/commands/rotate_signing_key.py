"""Make a new active key for access tokens; the old one stays published until its tokens expire."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts import keys


class Command(BaseCommand):
    help = "Generate a new signing key for access tokens and retire the current one."

    def handle(self, *args, **options) -> None:
        try:
            row = keys.rotate()
        except ImproperlyConfigured as e:
            raise CommandError(str(e)) from None
        self.stdout.write(self.style.SUCCESS(f"New active signing key {row.kid} ({row.algorithm})."))
        self.stdout.write(
            "Running servers pick it up within SIGNING_KEYS_RELOAD_SECONDS; the retired key stays in "
            "the JWKS until the tokens it signed have expired."
        )
