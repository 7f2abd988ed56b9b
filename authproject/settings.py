"""Settings of the token service.

This module is the only place that reads the environment. Code elsewhere reads these Django
settings when it uses them (never at import), so tests can change them with pytest-django's
`settings` fixture. Every variable is listed in the README's configuration table.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import dotenv_values
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean environment variable `name`; raise on anything but 1/0/true/false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return the integer environment variable `name`; raise when it is not an integer >= minimum."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: str) -> list[str]:
    """Return the comma-separated environment variable `name` as a list of non-blank items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def read_env_file() -> None:
    """The environment file DJANGO_ENV_FILE names, read as defaults for the variables the
    environment does not set. manage.py names the checkout's `.env` (which `make setup` writes
    with DJANGO_DEBUG=1), so a command in a checkout needs no prefix; a server (gunicorn, the
    WSGI and ASGI applications) and the test suite read no file unless DJANGO_ENV_FILE is set.
    Never read when the environment sets DJANGO_DEBUG to a false value (production)."""
    debug = os.environ.get("DJANGO_DEBUG")
    if debug is not None and debug.strip().lower() in _FALSE:
        return
    path = os.environ.get("DJANGO_ENV_FILE", "")
    if not path:
        return
    for name, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(name, value)


read_env_file()
DEBUG = env_bool("DJANGO_DEBUG", False)

# Fail closed: outside development there is no default secret (the contract requires it).
_DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-never-use-in-production-3f9a"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = _DEVELOPMENT_SECRET_KEY

# Former secret keys (rotation): Django's own signatures, the refresh tokens' HMAC keys (unless
# TOKEN_HMAC_KEY is set) and the stored private keys still verify or decrypt with them.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: `runserver` leaves static files to WhiteNoise's middleware, so they get
    # the same headers under the development server as under gunicorn (Swagger UI's
    # oauth2-redirect.html needs the pages' Cross-Origin-Opener-Policy to reach its opener).
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The task queue (Django 6's Tasks, backported), its database backend and `manage.py db_worker`.
    "django_tasks",
    "django_tasks_db",
    "accounts",
]

MIDDLEWARE = [
    "accounts.middleware.HealthCheckMiddleware",
    "accounts.middleware.OutageMiddleware",
    "accounts.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.FrameAncestorsMiddleware",
]

# The service's name and logo on every page for people (sign-in, consent, sign-out, errors).
SERVICE_NAME = os.environ.get("SERVICE_NAME", "").strip() or "authproject"
SERVICE_LOGO_URL = os.environ.get("SERVICE_LOGO_URL", "").strip()
if SERVICE_LOGO_URL and not SERVICE_LOGO_URL.startswith(("https://", "http://", "/")):
    raise ImproperlyConfigured(
        f"SERVICE_LOGO_URL must be an http(s) URL or a path on this service, not {SERVICE_LOGO_URL!r}"
    )

ROOT_URLCONF = "authproject.urls"
WSGI_APPLICATION = "authproject.wsgi.application"
ASGI_APPLICATION = "authproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # DJANGO_TEMPLATES_DIR: an operator's own templates, found before the service's own
        # (oauth/base.html, oauth/sign_in.html, ...): the Django way to restyle the pages.
        "DIRS": [os.environ["DJANGO_TEMPLATES_DIR"]] if os.environ.get("DJANGO_TEMPLATES_DIR") else [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.service",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A persistent connection is checked (one round trip) before a request reuses it: after a
        # database restart every process holds a dead connection, and without the check the first
        # request of each would fail.
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that accepts connections but does not answer must not hang requests (/healthz).
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
if DATABASE_TRANSACTION_POOLING:
    # DATABASE_URL names PgBouncer in transaction pooling mode: each transaction may run on
    # another server connection, so nothing may outlive one: no server-side cursors and no
    # prepared statements (PgBouncer 1.18 does not carry them over).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock when a transaction starts, so two rotations of one
    # refresh token queue up instead of failing with "database is locked" on lock upgrade;
    # WAL lets readers go on while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # A file, not memory, so that the concurrency tests' server processes share it.
    # TEST_SQLITE_NAME lets several test runs on one checkout keep apart.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_SQLITE_NAME") or str(BASE_DIR / "test-db.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every request of this service is small: refuse large bodies early (413/400 with an OAuth body).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100

AUTH_USER_MODEL = "accounts.User"
# Every caller of authenticate() (/login, the admin's sign-in) is counted by the throttling policy.
AUTHENTICATION_BACKENDS = ["accounts.throttling.backends.ThrottledModelBackend"]
# Sessions an active user may hold at once; starting one more revokes the oldest.
SESSIONS_PER_USER_MAX = env_int("SESSIONS_PER_USER_MAX", 100, minimum=1)

# Argon2id at OWASP's recommended minimum by default (accounts/hashers.py; README "Passwords").
ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 19456, minimum=8)
ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 2, minimum=1)
ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 1, minimum=1)
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {
        # This user has a full name, not Django's first and last names.
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the admin's, the browsable API's and Swagger UI's files from the installed
# apps directly, so no collectstatic step (and no STATIC_ROOT) is needed, with DJANGO_DEBUG=0 too.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "accounts.parsers.JSONParser",
        "accounts.parsers.FormParser",
        "accounts.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "accounts.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "accounts.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Parameters are read from the body only; no ?format= switch (it answered 404 at /login).
    "URL_FORMAT_OVERRIDE": None,
    "UNAUTHENTICATED_USER": None,
}

# --- Tokens and sessions (see the README's "Sessions" section) -------------------------------
ACCESS_TOKEN_LIFETIME_SECONDS = env_int("ACCESS_TOKEN_LIFETIME_SECONDS", 1800, minimum=1)
REFRESH_TOKEN_LIFETIME_SECONDS = env_int("REFRESH_TOKEN_LIFETIME_SECONDS", 604800, minimum=1)
SESSION_MAX_LIFETIME_SECONDS = env_int("SESSION_MAX_LIFETIME_SECONDS", 2592000, minimum=1)
REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = env_int("REFRESH_TOKEN_REUSE_INTERVAL_SECONDS", 0)

# The `iss` of every token. Never taken from the request's Host header.
TOKEN_ISSUER = os.environ.get("TOKEN_ISSUER", "").strip() or "http://127.0.0.1:8000"
# The `aud` of every access token (RFC 9068): who may accept them. Defaults to the issuer.
ACCESS_TOKEN_AUDIENCE = os.environ.get("ACCESS_TOKEN_AUDIENCE", "").strip() or TOKEN_ISSUER
# How long an authorization code of /authorize may wait for its exchange.
AUTHORIZATION_CODE_LIFETIME_SECONDS = env_int("AUTHORIZATION_CODE_LIFETIME_SECONDS", 60, minimum=1)
# DPoP (RFC 9449): how old a proof's iat may be; whether proofs must carry the server's nonce,
# and how long each nonce is good for (a nonce of the previous window is still accepted).
DPOP_PROOF_MAX_AGE_SECONDS = env_int("DPOP_PROOF_MAX_AGE_SECONDS", 60, minimum=1)
DPOP_NONCE_REQUIRED = env_bool("DPOP_NONCE_REQUIRED", False)
DPOP_NONCE_LIFETIME_SECONDS = env_int("DPOP_NONCE_LIFETIME_SECONDS", 300, minimum=10)
# Pushed authorization requests (RFC 9126): how long a request_uri of POST /par may wait for
# /authorize, and whether every client must push its requests (a client may be required alone).
PUSHED_REQUEST_LIFETIME_SECONDS = env_int("PUSHED_REQUEST_LIFETIME_SECONDS", 60, minimum=1)
REQUIRE_PUSHED_AUTHORIZATION_REQUESTS = env_bool("REQUIRE_PUSHED_AUTHORIZATION_REQUESTS", False)
# Requests that store a row before anyone signs in (POST /par, POST /device_authorization), per
# client address within the window: beyond the limit, 429.
STORED_REQUEST_LIMIT = env_int("STORED_REQUEST_LIMIT", 60, minimum=1)
STORED_REQUEST_WINDOW_SECONDS = env_int("STORED_REQUEST_WINDOW_SECONDS", 60, minimum=1)
# Device authorization (RFC 8628): how long a device code waits for its user, and the seconds a
# device waits between polls of /token (slow_down adds 5 each time it polls sooner).
DEVICE_CODE_LIFETIME_SECONDS = env_int("DEVICE_CODE_LIFETIME_SECONDS", 600, minimum=1)
DEVICE_CODE_INTERVAL_SECONDS = env_int("DEVICE_CODE_INTERVAL_SECONDS", 5, minimum=1)
# User codes entered at /device, per signed-in user and per client address, within the window.
DEVICE_USER_CODE_LIMIT = env_int("DEVICE_USER_CODE_LIMIT", 10, minimum=1)
DEVICE_USER_CODE_WINDOW_SECONDS = env_int("DEVICE_USER_CODE_WINDOW_SECONDS", 900, minimum=1)
# The browser sign-in of /authorize (a Django session cookie): how long it lasts.
SESSION_COOKIE_AGE = env_int("BROWSER_SIGN_IN_LIFETIME_SECONDS", 43200, minimum=60)
# Access tokens: RS256 by default (RFC 9068); ES256 and EdDSA are cheaper to sign; HS256 keeps
# them private to this service. Checked at start-up by accounts/checks.py.
ACCESS_TOKEN_ALGORITHM = os.environ.get("ACCESS_TOKEN_ALGORITHM", "").strip() or "RS256"
# The operator's private key (PEM), inline or as a file. Without one, a key pair is generated on
# first need and kept (encrypted) in the database: see accounts/keys.py.
ACCESS_TOKEN_SIGNING_KEY = os.environ.get("ACCESS_TOKEN_SIGNING_KEY", "").strip()
ACCESS_TOKEN_SIGNING_KEY_FILE = os.environ.get("ACCESS_TOKEN_SIGNING_KEY_FILE", "").strip()
# How often each process re-reads the list of signing keys (a rotation elsewhere shows up then).
SIGNING_KEYS_RELOAD_SECONDS = env_int("SIGNING_KEYS_RELOAD_SECONDS", 30)
# A rotated-in key is published this long before it signs: longer than resource servers cache
# the JWKS (its Cache-Control max-age is 300 s), so they know it before they meet its tokens.
SIGNING_KEY_PREPUBLISH_SECONDS = env_int("SIGNING_KEY_PREPUBLISH_SECONDS", 600)
# Key of the HMAC signatures (refresh tokens always, access tokens while they use HS256).
# Defaults to a key derived from DJANGO_SECRET_KEY for this purpose alone.
TOKEN_HMAC_KEY = os.environ.get("TOKEN_HMAC_KEY", "").strip()

# Of simplejwt's settings only these two are read (by its Token base class, which
# accounts/tokens.py extends); everything else (keys, algorithms, lifetimes) is ours.
SIMPLE_JWT = {"TOKEN_TYPE_CLAIM": "token_type", "JTI_CLAIM": "jti"}

SPECTACULAR_SETTINGS = {
    "TITLE": "authproject token service",
    "DESCRIPTION": (
        "Log in at POST /login, call protected endpoints with the access token as a bearer token, "
        "trade the refresh token for a new pair at POST /token. In Swagger UI, press Authorize and "
        "sign in through /authorize (demo user johndoe / secret), or paste an access token."
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "persistAuthorization": True,
        # The redirect URI registered for demo-docs by seed_demo_users.
        "oauth2RedirectUrl": f"{TOKEN_ISSUER.rstrip('/')}/docs/oauth2-redirect.html",
    },
    "SWAGGER_UI_OAUTH2_CONFIG": {"clientId": "demo-docs", "usePkceWithAuthorizationCodeGrant": True},
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.schema.contract_paths",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Throttling (accounts/throttling/policy.py) ----------------------------------------------
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# Failed sign-ins per client address for every username: off (0) unless the operator turns it on,
# because many users share one address (NAT, a company proxy).
IP_FAILURE_LIMIT = env_int("IP_FAILURE_LIMIT", 0)
IP_FAILURE_WINDOW_SECONDS = env_int("IP_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# IPv6 clients are counted per network of this many bits (one subscriber's allocation).
THROTTLE_IPV6_PREFIX = env_int("THROTTLE_IPV6_PREFIX", 64, minimum=1)
if THROTTLE_IPV6_PREFIX > 128:
    raise ImproperlyConfigured(f"THROTTLE_IPV6_PREFIX must be at most 128, not {THROTTLE_IPV6_PREFIX}")
# Counters live in the database unless REDIS_URL names a Redis server (Django's Redis backend).
# Short timeouts and one retry: a Redis that does not answer costs a request well under a
# second (then 503), never a worker hung until gunicorn's timeout.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
REDIS_OPTIONS = {"socket_connect_timeout": 0.3, "socket_timeout": 0.3, "retry": Retry(NoBackoff(), 1)}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES["throttle"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": REDIS_OPTIONS,
    }
# The client IP is the connection's address, unless it is one of these proxies (addresses or
# networks, comma-separated; `unix` for a proxy on a unix socket): then the X-Forwarded-For
# entry the nearest untrusted hop added. Checked at start-up (accounts.E006).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")

# --- Sign in with Google (any OpenID Connect provider; accounts/federation) ------------------
# Off (no link on the sign-in page, no token-exchange grant) while GOOGLE_CLIENT_ID is unset.
GOOGLE_CLIENT_ID = os.environ.get("GOOGLE_CLIENT_ID", "").strip()
GOOGLE_CLIENT_SECRET = os.environ.get("GOOGLE_CLIENT_SECRET", "").strip()
# Its discovery document is {GOOGLE_ISSUER}/.well-known/openid-configuration. https, except on
# a loopback address (tests and local providers): checked at start-up (accounts.E007).
GOOGLE_ISSUER = os.environ.get("GOOGLE_ISSUER", "").strip() or "https://accounts.google.com"
# The client ids (the apps' own: Android, iOS, web) whose ID tokens the token exchange accepts.
GOOGLE_TOKEN_AUDIENCES = env_list("GOOGLE_TOKEN_AUDIENCES", GOOGLE_CLIENT_ID)
# Calls to the provider (discovery, JWKS, code exchange) give up after this many seconds (then 503).
UPSTREAM_OIDC_TIMEOUT_SECONDS = env_int("UPSTREAM_OIDC_TIMEOUT_SECONDS", 5, minimum=1)
# How long the provider's discovery document and keys are kept before they are fetched again.
UPSTREAM_OIDC_CACHE_SECONDS = env_int("UPSTREAM_OIDC_CACHE_SECONDS", 3600)
# An ID token with an unknown `kid` refetches the provider's keys at most once per this interval
# (a provider's key rotation is seen at once; a flood of made-up kids costs one fetch).
UPSTREAM_OIDC_JWKS_REFRESH_SECONDS = env_int("UPSTREAM_OIDC_JWKS_REFRESH_SECONDS", 60)

# --- private_key_jwt: the keys clients publish at their jwks_uri (accounts/oauth/assertions.py) ----
# Reading a client's jwks_uri gives up after this many seconds (the client's authentication then fails).
CLIENT_JWKS_TIMEOUT_SECONDS = env_int("CLIENT_JWKS_TIMEOUT_SECONDS", 5, minimum=1)
# How long a client's keys read from its jwks_uri are kept before they are read again.
CLIENT_JWKS_CACHE_SECONDS = env_int("CLIENT_JWKS_CACHE_SECONDS", 3600)
# An assertion with an unknown `kid` rereads the client's jwks_uri at most once per this interval.
CLIENT_JWKS_REFRESH_SECONDS = env_int("CLIENT_JWKS_REFRESH_SECONDS", 60)

# --- CORS (django-cors-headers; allowed origins come from the clients, accounts/oauth/cors.py) ----
CORS_URLS_REGEX = r"^/(token|revoke|userinfo|password-reset|users|users/me(/sessions(/[^/]+)?|/password|/email(/verification)?)?)/?$"
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_CREDENTIALS = False  # no cookie is accepted cross-origin

# --- HTTPS (off unless the operator turns them on; see the README's "Deploy") ---------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):  # behind a proxy that sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]  # load balancers probe over plain HTTP
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "accounts.audit.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "audit": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "accounts.audit": {"handlers": ["audit"], "level": "INFO", "propagate": False},
        # Django's own default gives "django" a console handler of its own with DEBUG on, on
        # top of the root's: every 4xx was logged twice. Its records go to the root's alone.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# --- Passkeys (WebAuthn, accounts/mfa/passkeys.py) ---------------------------------------------
# The relying party's ID (a host name, never an IP address: browsers refuse those) and the origins
# a passkey may sign in from. Defaults: the issuer's host and origin, where a loopback address
# (make run's http://127.0.0.1:8000) becomes `localhost` (open http://localhost:8000 for passkeys).
_issuer = urlsplit(TOKEN_ISSUER)
_issuer_host = "localhost" if _issuer.hostname in ("127.0.0.1", "::1") else (_issuer.hostname or "localhost")
_default_port = {"http": 80, "https": 443}.get(_issuer.scheme)  # an origin never names its scheme's port
_issuer_origin = f"{_issuer.scheme}://{_issuer_host}" + (
    f":{_issuer.port}" if _issuer.port and _issuer.port != _default_port else ""
)
PASSKEY_RP_ID = os.environ.get("PASSKEY_RP_ID", "").strip() or _issuer_host
PASSKEY_ORIGINS = env_list("PASSKEY_ORIGINS", _issuer_origin)

# --- Accounts: sign-up, email verification, password reset (accounts/selfservice) ------------
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", False)
EMAIL_VERIFICATION_LIFETIME_SECONDS = env_int(
    "EMAIL_VERIFICATION_LIFETIME_SECONDS", 3 * 24 * 3600, minimum=60
)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=60)  # Django's name
# Requests that send an email (sign-up, a new verification link, a password reset, an email change),
# counted per email address and per client address within the window; beyond either limit, 429.
EMAIL_REQUEST_LIMIT = env_int("EMAIL_REQUEST_LIMIT", 5, minimum=1)
EMAIL_REQUEST_IP_LIMIT = env_int("EMAIL_REQUEST_IP_LIMIT", 30, minimum=1)
EMAIL_REQUEST_WINDOW_SECONDS = env_int("EMAIL_REQUEST_WINDOW_SECONDS", 3600, minimum=1)

# Django's email framework, by Django's own names: SMTP whenever EMAIL_HOST is set, otherwise the
# console (development: `make run` prints each message).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip()
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be set (STARTTLS or TLS from the start)"
    )
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or "webmaster@localhost"
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
# Each email is sent by `manage.py db_worker`, never by a request: a slow or failing SMTP server
# costs no request anything. A failed attempt is retried after EMAIL_RETRY_SECONDS, doubling each
# time (at most an hour apart), EMAIL_SEND_ATTEMPTS times in all.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
EMAIL_SEND_ATTEMPTS = env_int("EMAIL_SEND_ATTEMPTS", 10, minimum=1)
EMAIL_RETRY_SECONDS = env_int("EMAIL_RETRY_SECONDS", 30, minimum=1)
