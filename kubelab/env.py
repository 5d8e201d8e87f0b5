"""Read settings from the environment, failing with one line that names the variable and the fix."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


class SettingError(Exception):
    """A setting in the environment is missing or malformed; the message is one actionable line."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise SettingError(
                f"{name} is not set: export {name}=<value> (see README.md, Settings)"
            )
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingError(f"{name} must be true or false (1/0, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class DatabaseUrl:
    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""


def parse_database_url(name: str, raw: str) -> DatabaseUrl:
    """Parse sqlite:///path or postgres://user:pass@host:port/db into Django's terms."""
    parts = urlsplit(raw)
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("//") else parts.path
        if not path:
            raise SettingError(f"{name} must name a file, like sqlite:////abs/path/db.sqlite3")
        return DatabaseUrl(engine="django.db.backends.sqlite3", name=path)
    if parts.scheme in {"postgres", "postgresql"}:
        db = parts.path.lstrip("/")
        if not db or not parts.hostname:
            raise SettingError(
                f"{name} must look like postgres://user:password@127.0.0.1:5432/dbname, got {raw!r}"
            )
        return DatabaseUrl(
            engine="django.db.backends.postgresql",
            name=unquote(db),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname,
            port=str(parts.port or ""),
        )
    raise SettingError(
        f"{name} must start with sqlite:// or postgres://, got {raw.split(':', 1)[0]!r}"
    )


def check_redis_url(name: str, raw: str) -> str:
    if urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise SettingError(f"{name} must look like redis://127.0.0.1:6379/0, got {raw!r}")
    return raw


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server (and password), another database number."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return url
    return parts._replace(path=f"/{db}").geturl()


def env_rates(name: str, known: Iterable[str]) -> dict[str, str]:
    """KUBELAB_RATE_LIMITS-style overrides: "signup=10/h,check=30/m" -> {scope: rate}."""
    from kubelab.rates import parse_rate

    raw = os.environ.get(name, "")
    scopes = set(known)
    found: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        scope, equals, rate = item.partition("=")
        scope = scope.strip()
        if not equals or scope not in scopes:
            raise SettingError(
                f"{name}: {item!r} must be SCOPE=COUNT/WINDOW with SCOPE one of "
                f"{', '.join(sorted(scopes))}"
            )
        try:
            parse_rate(rate)
        except ValueError as error:
            raise SettingError(f"{name}: {scope}: {error}") from None
        found[scope] = rate.strip()
    return found


def repo_path(*parts: str) -> Path:
    return Path(__file__).resolve().parent.parent.joinpath(*parts)
