"""Which terminal daemon holds each learner's shell, in Redis (Django's cache, which every web
process and daemon of an installation shares), and the secret their connections are signed
with. A web process asks here first, so a learner reaches their shell from any web process on
any host; an entry for a daemon that no longer answers is dropped and a new shell started."""

from __future__ import annotations

from django.core.cache import cache
from django.utils.crypto import salted_hmac


def _key(user_id: int) -> str:
    return f"terminal:shell-of:{int(user_id)}"


def daemon_secret() -> bytes:
    """Derived from the installation's secret key: web processes and daemons share it."""
    return salted_hmac("kubelab.terminal.daemon", "hello").digest()


def shell_placed(user_id: int, address: str, ttl_seconds: int) -> None:
    cache.set(_key(user_id), address, timeout=max(60, int(ttl_seconds)))


def shell_claim(user_id: int, address: str, ttl_seconds: int) -> str:
    """Claim the learner's entry for the daemon at `address` unless another daemon holds it;
    returns the holder (`address` when the claim won). Atomic (Redis SET NX): two daemons that
    each got one of a learner's two new screens at the same moment agree on one of them."""
    for _ in range(3):
        if cache.add(_key(user_id), address, timeout=max(60, int(ttl_seconds))):
            return address
        holder = cache.get(_key(user_id))
        if holder:
            return str(holder)
    return address  # the entry kept vanishing between the two calls: Redis is being flushed


def shell_place(user_id: int) -> str | None:
    found = cache.get(_key(user_id))
    return str(found) if found else None


def shell_forget(user_id: int, address: str) -> None:
    """Drop the entry if it still names this daemon (another may have taken over since)."""
    if cache.get(_key(user_id)) == address:
        cache.delete(_key(user_id))
