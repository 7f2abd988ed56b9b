"""Make the next signing key for access tokens; with --compromised, distrust the current one at once."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.keys import lifecycle


class Command(BaseCommand):
    help = (
        "Generate the next signing key for access tokens: published now, signing after "
        "SIGNING_KEY_PREPUBLISH_SECONDS (or at once with --now). The old key stays in the JWKS "
        "until the tokens it signed have expired, unless --compromised: then it leaves the JWKS and "
        "its tokens are refused by every process within SIGNING_KEYS_RELOAD_SECONDS."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--now",
            action="store_true",
            help="Sign with the new key at once (resource servers may not know it yet).",
        )
        parser.add_argument(
            "--compromised",
            action="store_true",
            help="The current key was stolen: distrust it at once (its tokens stop) and sign with the new key now.",
        )

    def handle(self, *args, **options) -> None:
        try:
            row = lifecycle.rotate(immediately=options["now"], compromised=options["compromised"])
        except ImproperlyConfigured as e:
            raise CommandError(str(e)) from None
        when = "now" if row.activates_at <= row.created_at else f"at {row.activates_at:%Y-%m-%d %H:%M:%S} UTC"
        self.stdout.write(self.style.SUCCESS(f"New signing key {row.kid} ({row.algorithm}), signing {when}."))
