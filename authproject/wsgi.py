import os

from django.core import checks
from django.core.management.base import SystemCheckError
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")

application = get_wsgi_application()

# gunicorn does not run Django's system checks: run them here, so that a misconfigured service
# (a bad signing key, a disallowed algorithm, a non-https issuer in production) refuses to start.
_errors = [message for message in checks.run_checks(include_deployment_checks=False) if message.is_serious()]
if _errors:
    raise SystemCheckError("The service cannot start:\n" + "\n".join(str(message) for message in _errors))
