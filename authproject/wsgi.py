import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")

application = get_wsgi_application()

from accounts.checks import refuse_to_start_if_misconfigured  # noqa: E402  (needs the app registry)

refuse_to_start_if_misconfigured()
