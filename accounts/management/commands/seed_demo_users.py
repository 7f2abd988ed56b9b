"""Create the demo users that are missing; leave existing ones untouched."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Client, User
from accounts.oauth.clients import InvalidRegistration, Registration, register

# The public first-party client through which /docs/ (Swagger UI) signs in with PKCE.
DOCS_CLIENT_ID = "demo-docs"


def docs_redirect_uri() -> str:
    """Swagger UI's OAuth 2 redirect page of this service."""
    return f"{settings.TOKEN_ISSUER.rstrip('/')}/docs/oauth2-redirect.html"


DEMO_USERS = (
    {
        "username": "johndoe",
        "password": "secret",
        "full_name": "John Doe",
        "email": "johndoe@example.com",
        "is_active": True,
    },
    {
        "username": "alice",
        "password": "secret2",
        "full_name": "Alice Wonderson",
        "email": "alice@example.com",
        "is_active": False,
    },
)


class Command(BaseCommand):
    help = (
        "Create the demo users johndoe (active) and alice (disabled), and the public first-party client "
        "demo-docs of /docs/, when they are missing."
    )

    def handle(self, *args, **options) -> None:
        for spec in DEMO_USERS:
            fields = dict(spec)
            username = fields.pop("username")
            password = fields.pop("password")
            with transaction.atomic():
                if User.objects.filter(username=username).exists():
                    self.stdout.write(f"{username}: exists, left untouched")
                    continue
                User.objects.create_user(username=username, password=password, **fields)
            self.stdout.write(self.style.SUCCESS(f"{username}: created"))
        if Client.objects.filter(pk=DOCS_CLIENT_ID).exists():
            self.stdout.write(f"{DOCS_CLIENT_ID}: exists, left untouched")
            return
        try:
            register(
                Registration(
                    name="API documentation (Swagger UI)",
                    redirect_uris=(docs_redirect_uri(),),
                    first_party=True,
                    client_id=DOCS_CLIENT_ID,
                )
            )
        except InvalidRegistration as e:  # e.g. an http issuer on a host that is not loopback
            self.stderr.write(f"{DOCS_CLIENT_ID}: not registered: {e}")
            return
        self.stdout.write(self.style.SUCCESS(f"{DOCS_CLIENT_ID}: registered"))
