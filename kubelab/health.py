"""Reachability of every part kubelab stands on: database, Redis, Celery workers, Kubernetes API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection

import k8s
from kubelab.celery import app as celery_app

Check = Callable[[], dict[str, Any]]


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis() -> dict[str, Any]:
    conn = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        conn.ping()
    finally:
        conn.close()
    return {}


def _celery() -> dict[str, Any]:
    replies = celery_app.control.ping(timeout=1.0)
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        raise RuntimeError("no Celery worker answered within 1 s")
    return {"workers": workers}


def _kubernetes() -> dict[str, Any]:
    return k8s.cluster_version()


CHECKS: dict[str, Check] = {
    "database": _database,
    "redis": _redis,
    "celery": _celery,
    "kubernetes": _kubernetes,
}


def health_report() -> dict[str, Any]:
    """Run every check; one failing part never hides the others."""
    parts: dict[str, Any] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail = check()
            parts[name] = {"ok": True, **detail}
        except Exception as exc:
            parts[name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:300]}
        parts[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return {"ok": all(part["ok"] for part in parts.values()), "checks": parts}


# What anyone may see: ok or not, from a report at most this old (a public /healthz must not
# broadcast a ping to every Celery worker per hit).
PUBLIC_REPORT_SECONDS = 10.0
_public: tuple[float, bool] | None = None
_public_lock = threading.Lock()


def health_ok_cached(*, now: float | None = None) -> bool:
    """Whether every part answered, from a report at most PUBLIC_REPORT_SECONDS old."""
    global _public
    moment = time.monotonic() if now is None else now
    with _public_lock:
        if _public is not None and moment - _public[0] < PUBLIC_REPORT_SECONDS:
            return _public[1]
        ok = bool(health_report()["ok"])
        _public = (moment, ok)
        return ok
