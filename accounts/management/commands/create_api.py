"""manage.py create_api IDENTIFIER --name NAME [--scope NAME:DESCRIPTION ...]: register an API."""

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.apis import scopes


class Command(BaseCommand):
    help = (
        "Register an API that accepts this service's access tokens: its identifier (an absolute URI, "
        "the tokens' aud and the resource parameter that asks for them), its name, and its scopes. "
        "Prints the API as JSON."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "identifier", help="an absolute URI without a fragment, e.g. https://orders.example.com"
        )
        parser.add_argument("--name", required=True, help="the name people see on the consent page")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="scopes",
            metavar="NAME:DESCRIPTION",
            help="a scope of the API and the consent page's line for it (repeat for several); a name "
            "with a colon takes ': ' before the description: --scope 'orders:read: Read your orders'",
        )

    def handle(self, *args, **options) -> None:
        try:
            parsed = [scopes.parse_scope_argument(argument) for argument in options["scopes"]]
            api = scopes.create_api(identifier=options["identifier"], name=options["name"], scopes=parsed)
        except scopes.InvalidApi as e:
            raise CommandError(str(e)) from None
        self.stdout.write(json.dumps(scopes.representation(api)))
