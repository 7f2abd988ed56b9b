import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")

application = get_asgi_application()

from accounts.checks import start_up  # noqa: E402  (needs the app registry)

start_up()
