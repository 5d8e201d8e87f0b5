"""Namespace names for learner environments: valid DNS labels, deterministic, collision-free.

A learner's namespace is named from the user id, a generation counter and a short keyed hash:
``kl-u42-7f3a9c01`` (generation 0) or ``kl-u42-g3-5be0d2aa`` (generation 3). The hash is keyed
with the install's salt, so two kubelab installs (a dev server and a test run, say) that share
one cluster never pick the same name for their user 42. The generation moves on only when the
name is taken by something that is not this environment (a namespace still terminating after a
teardown, or one another install created); the database records the generation, so the name is
deterministic *for the database record*, not from the user id alone.

Warm-pool namespaces are created before anyone claims them, so they are named from the pool
slot's database id instead (``kl-p17-0c9e44b2``); once claimed, the learner's database record
points at that name.

Pure: no Django, no ``kubernetes``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "kl"
HASH_CHARS = 8
MAX_LENGTH = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _keyed_hash(salt: str, *parts: object) -> str:
    message = ":".join(str(part) for part in parts).encode()
    return hmac.new(salt.encode(), message, hashlib.sha256).hexdigest()[:HASH_CHARS]


def learner_namespace_name(*, user_id: int, salt: str, generation: int = 0) -> str:
    """The namespace for a learner's environment at a given generation."""
    if user_id < 0 or generation < 0:
        raise ValueError("user_id and generation must not be negative")
    tag = f"u{user_id}" if generation == 0 else f"u{user_id}-g{generation}"
    return _checked(f"{PREFIX}-{tag}-{_keyed_hash(salt, 'learner', user_id, generation)}")


def pool_namespace_name(*, slot_id: int, salt: str) -> str:
    """The neutral name of a warm-pool namespace, from its pool row's id."""
    if slot_id < 0:
        raise ValueError("slot_id must not be negative")
    return _checked(f"{PREFIX}-p{slot_id}-{_keyed_hash(salt, 'pool', slot_id)}")


def scratch_namespace_name(*, nonce: str) -> str:
    """A throwaway environment for content tests (no learner, no pool slot): ``kl-t-<nonce>``."""
    return _checked(f"{PREFIX}-t-{nonce.lower()}")


def install_label(salt: str) -> str:
    """A label value naming this install, so each install only ever touches its own namespaces."""
    return _keyed_hash(salt, "install")


def is_dns_label(name: str) -> bool:
    """RFC 1123 label: what Kubernetes accepts as a namespace name."""
    return len(name) <= MAX_LENGTH and bool(_DNS_LABEL.match(name))


def _checked(name: str) -> str:
    if not is_dns_label(name):  # pragma: no cover - impossible for non-negative integers
        raise ValueError(f"{name!r} is not a valid namespace name")
    return name
