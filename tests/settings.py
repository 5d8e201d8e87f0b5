"""Test settings: the real settings, with a separate Redis database and a shareable test DB."""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("KUBELAB_SECRET_KEY", "tests-only-not-a-secret")

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
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL

# SQLite's default test database lives in memory; a file lets worker and web processes share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Processes started by the test fixtures (worker, web) open the test database directly.
if os.environ.get("KUBELAB_USE_TEST_DB") == "1":
    default = DATABASES["default"]
    default["NAME"] = default.get("TEST", {}).get("NAME") or f"test_{default['NAME']}"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
