"""Test settings: the real settings, with a separate Redis database and a shareable test DB."""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("KUBELAB_SECRET_KEY", "tests-only-not-a-secret")

from kubelab.rates import DEFAULT_LIMITS
from kubelab.settings import *  # noqa: F403
from kubelab.settings import DATABASES, REDIS_URL, VAR_DIR


def _redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


# Tests use Redis database 1 so a running `make run` (database 0) never sees test tasks.
REDIS_URL = _redis_db(REDIS_URL, 1)
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
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# The cache (rate limits) on its own database, each test run under its own key prefix; every
# limit so high that no test meets one unless it lowers it (tests/kubelab/test_rate_limits.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db(REDIS_URL, 3),
        "KEY_PREFIX": os.environ.setdefault("KUBELAB_TEST_CACHE_PREFIX", f"t{os.getpid()}"),
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
if not os.environ.get("KUBELAB_RATE_LIMITS"):
    KUBELAB_RATE_LIMITS = dict.fromkeys(DEFAULT_LIMITS, "100000/s")

# Each test run gets its own database (several runs may share one PostgreSQL), named after the
# pytest process; processes started by the fixtures (worker, web) inherit the name and open it
# directly instead of the development database.
if os.environ.get("KUBELAB_USE_TEST_DB") == "1":
    DATABASES["default"]["NAME"] = os.environ["KUBELAB_TEST_DB_NAME"]
else:
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        # SQLite's default test database lives in memory; a file lets other processes share it.
        _test_name = str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    else:
        _test_name = f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
    DATABASES["default"]["TEST"] = {"NAME": _test_name}
    os.environ["KUBELAB_TEST_DB_NAME"] = _test_name

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
