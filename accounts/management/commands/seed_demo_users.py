"""Create the demo users that are missing; leave existing ones untouched."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User

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
    help = "Create the demo users johndoe (active) and alice (disabled) when they are missing."

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
