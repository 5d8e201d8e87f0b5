"""Django settings, read from KUBELAB_* environment variables (see README.md, Settings)."""

from __future__ import annotations

from typing import Any

from kubelab.env import (
    check_redis_url,
    env_bool,
    env_int,
    env_list,
    env_rates,
    env_str,
    parse_database_url,
    redis_url_with_db,
    repo_path,
)
from kubelab.rates import DEFAULT_LIMITS

BASE_DIR = repo_path()
VAR_DIR = repo_path("var")

DEBUG = env_bool("KUBELAB_DEBUG", False)
SECRET_KEY = env_str("KUBELAB_SECRET_KEY", "dev-only-insecure-key" if DEBUG else None)
ALLOWED_HOSTS = env_list("KUBELAB_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list(
    "KUBELAB_CSRF_TRUSTED_ORIGINS", [f"http://{host}:8000" for host in ALLOWED_HOSTS]
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "tutorials",
    "labs",
    "sandbox",
    "terminal",
    "classes",
    "studio",
    # LTI 1.3 (lms/): django-lti's tables (registrations, deployments, keys, LMS users,
    # courses, links) and kubelab's own on top.
    "lti_tool",
    "lms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kubelab.outages.OutageMiddleware",
    # Outside the session, CSRF, framing and CSP middleware, so it sees the cookies and headers
    # they set; inside the outage one, so a session it cannot read is a 503 like any other.
    "lms.framing.FramedSessionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kubelab.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "kubelab.urls"
ASGI_APPLICATION = "kubelab.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.guest",
                "accounts.context_processors.roles",
                "accounts.context_processors.preferences",
            ],
        },
    },
]

_database = parse_database_url(
    "KUBELAB_DATABASE_URL",
    env_str("KUBELAB_DATABASE_URL", f"sqlite:///{VAR_DIR / 'kubelab.sqlite3'}"),
)
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": _database.engine,
        "NAME": _database.name,
        "USER": _database.user,
        "PASSWORD": _database.password,
        "HOST": _database.host,
        "PORT": _database.port,
        # Grading workers and the web process write the same rows; keep transactions short.
        "ATOMIC_REQUESTS": False,
        "CONN_HEALTH_CHECKS": True,
    }
}
if _database.engine.endswith("sqlite3"):
    # SQLite for a one-box run, made to hold a class: WAL lets readers go on while one writes;
    # IMMEDIATE takes the write lock when a transaction begins, so a reader that later writes
    # waits for it (the busy timeout) instead of failing with "database is locked" at once;
    # synchronous=NORMAL is WAL's safe setting (a crash loses no committed transaction's data,
    # only, on power loss, the last ones). Connections persist: when a process's last SQLite
    # connection closes, SQLite removes the -wal and -shm files, and the next reader must make
    # them again, which fails on a full disk; a connection kept open lets reads go on there.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = check_redis_url(
    "KUBELAB_REDIS_URL", env_str("KUBELAB_REDIS_URL", "redis://127.0.0.1:6390/0")
)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py's default 5 s socket timeout equals channels_redis's 5 s blocking pop, so an
        # idle socket's receive died with "Timeout reading" and dropped the websocket every ~5 s.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# Django's cache is Redis, so what it counts (rate limits, kubelab/ratelimit.py) is shared by
# every web process; its own database, because clearing a cache must not empty a task queue.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("KUBELAB_CACHE_URL", redis_url_with_db(REDIS_URL, 2)),
        "KEY_PREFIX": "kubelab",
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
KUBELAB_RATE_LIMITS = env_rates("KUBELAB_RATE_LIMITS", DEFAULT_LIMITS)
# /healthz shows every part's details to staff and to `Authorization: Bearer <this>` only.
KUBELAB_HEALTH_TOKEN = env_str("KUBELAB_HEALTH_TOKEN", "")

CELERY_BROKER_URL = env_str("KUBELAB_CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("KUBELAB_CELERY_RESULT_BACKEND", REDIS_URL)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hant", "繁體中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Served to other machines means served over HTTPS (a proxy in front terminates TLS and is named
# in KUBELAB_TRUSTED_PROXIES): then cookies are Secure and browsers are told to stay on HTTPS.
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
KUBELAB_HTTPS = env_bool("KUBELAB_HTTPS", any(h not in _LOOPBACK_HOSTS for h in ALLOWED_HOSTS))
SESSION_COOKIE_SECURE = KUBELAB_HTTPS or env_bool("KUBELAB_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if KUBELAB_HTTPS:
    SECURE_HSTS_SECONDS = env_int("KUBELAB_HSTS_SECONDS", 31536000, maximum=2 * 31536000)
    CSRF_TRUSTED_ORIGINS = [*CSRF_TRUSTED_ORIGINS, *(f"https://{h}" for h in ALLOWED_HOSTS)]
X_FRAME_OPTIONS = "DENY"  # lms.framing lifts it for sessions an LMS launched, for that LMS only
# Scores an LMS did not take are sent again after this many seconds, doubling up to an hour.
LMS_RETRY_SECONDS = env_int("KUBELAB_LMS_RETRY_SECONDS", 30, minimum=1, maximum=3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Kubernetes: any cluster through a kubeconfig; the embedded one writes its admin kubeconfig here.
KUBELAB_KUBECONFIG = env_str("KUBELAB_KUBECONFIG", str(VAR_DIR / "cluster" / "admin.kubeconfig"))
KUBELAB_API_TIMEOUT_SECONDS = env_int("KUBELAB_API_TIMEOUT_SECONDS", 5, minimum=1, maximum=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("KUBELAB_LOG_LEVEL", "INFO")},
    "loggers": {"kubernetes": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
