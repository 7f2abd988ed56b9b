import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from authproject.wsgi import application  # noqa: F401
