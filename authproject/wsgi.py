import os

from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")

application = get_wsgi_application()

# gunicorn does not run Django's system checks: run them here, so that a misconfigured service
# (a bad signing key, a disallowed algorithm, a non-https issuer in production) refuses to start.
call_command("check", fail_level="ERROR")
