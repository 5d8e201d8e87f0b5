"""Rewrite a learner's kubeconfig so kubectl inside the jail talks to the in-jail relay (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

# Inside the jail's own network namespace the relay listens here; the host's 6443 is unreachable.
JAIL_API_HOST = "127.0.0.1"
JAIL_API_PORT = 6443


# libyaml's safe loader and dumper when PyYAML was built with it (20x faster than pure Python).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class KubeconfigError(ValueError):
    """The learner kubeconfig cannot be used for a terminal; the message says why."""


@dataclass(frozen=True)
class JailKubeconfig:
    text: str  # YAML for inside the jail
    upstream_host: str  # where the forwarder dials: the API server from the original kubeconfig
    upstream_port: int
    namespace: str


def _current(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    contexts = {c.get("name"): c.get("context") or {} for c in doc.get("contexts") or []}
    context = contexts.get(doc.get("current-context")) or next(iter(contexts.values()), None)
    if context is None:
        raise KubeconfigError("kubeconfig has no context")
    clusters = {c.get("name"): c for c in doc.get("clusters") or []}
    cluster_entry = clusters.get(context.get("cluster"))
    if cluster_entry is None or not isinstance(cluster_entry.get("cluster"), dict):
        raise KubeconfigError(
            f"kubeconfig context names unknown cluster {context.get('cluster')!r}"
        )
    return context, cluster_entry["cluster"]


def jail_kubeconfig(original: str) -> JailKubeconfig:
    """Point the current context's cluster at the jail relay, keeping TLS verification intact."""
    try:
        doc = yaml.load(original, Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig is not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise KubeconfigError("kubeconfig is not a mapping")
    context, cluster = _current(doc)
    server = str(cluster.get("server") or "")
    parts = urlsplit(server)
    if parts.scheme != "https" or not parts.hostname:
        raise KubeconfigError(f"kubeconfig server must be an https:// URL, got {server!r}")
    if parts.path not in ("", "/"):
        raise KubeconfigError(f"kubeconfig server with a path prefix is not supported: {server!r}")
    port = parts.port or 443
    cluster["server"] = f"https://{JAIL_API_HOST}:{JAIL_API_PORT}"
    # The certificate was issued for the real address; verify against that name, not the relay's.
    cluster.setdefault("tls-server-name", parts.hostname)
    cluster.pop("proxy-url", None)
    namespace = str(context.get("namespace") or "default")
    return JailKubeconfig(
        text=yaml.dump(doc, Dumper=_Dumper, sort_keys=False),
        upstream_host=parts.hostname,
        upstream_port=port,
        namespace=namespace,
    )
