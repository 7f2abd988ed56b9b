"""Benchmark-only settings: the project's, plus the floor endpoint and stock simplejwt views.

Used only by `make bench` (bench/run.py). Stock simplejwt is configured as its documentation
suggests for rotation: ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION.
"""

from datetime import timedelta

from authproject.settings import *  # noqa: F403
from authproject.settings import SECRET_KEY, SIMPLE_JWT

ROOT_URLCONF = "bench.urls"

SIMPLE_JWT = {
    **SIMPLE_JWT,
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
}
