"""Real kuard's probe API, simulated: ``PUT /healthy/api`` (or ``/ready/api``) with
``{"failNext": N}`` makes the next N probes answer 500 (N < 0: every probe, 0: none), and
``GET`` of the same path reports ``{"probePath", "failNext", "history"}`` as kuard does.

kuard counts the probes it answers. Here the kubelet's probes are simulated by the kubelet shim
(cluster/kubelet-shim/probe.go), which never reaches the app and may not write into the pod's
files, so it counts by time instead: a probe every periodSeconds from the moment failNext was
set. Both sides derive the same count from the state (``fail_next``, ``fail_next_since``); a
learner's own request to ``/healthy`` uses one of the failures, as it would on kuard.
Stdlib only: it runs in the demo app's jail.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

HISTORY = 20  # kuard keeps the last 20 answers
PROBE_FIELDS = {"healthy": "livenessProbe", "ready": "readinessProbe"}


def probe_period(container: dict[str, Any], probe: str) -> int | None:
    """periodSeconds of the container's HTTP probe of ``/<probe>``, None without one."""
    spec = container.get(PROBE_FIELDS[probe])
    if not isinstance(spec, dict) or not isinstance(spec.get("httpGet"), dict):
        return None
    if spec["httpGet"].get("path") != f"/{probe}":
        return None
    period = spec.get("periodSeconds")
    return period if isinstance(period, int) and period > 0 else 10


def fail_next_left(entry: dict[str, Any], period: int | None, now: float) -> int:
    """The failures still to come: negative for "always", 0 for none."""
    stored = int(entry.get("fail_next") or 0)
    since = entry.get("fail_next_since")
    if stored <= 0 or period is None or since is None:
        return stored
    probes_made = math.floor(max(0.0, now - float(since)) / period) + 1
    return max(0, stored - probes_made)


def fail_next_set(entry: dict[str, Any], count: int, now: float) -> None:
    entry["fail_next"] = count
    entry["fail_next_since"] = now if count else None


def answer_record(entry: dict[str, Any], code: int, now: float) -> None:
    """One answer in kuard's history (newest last here; the API shows newest first)."""
    history = list(entry.get("history") or [])
    last_id = history[-1]["id"] if history else 0
    history.append({"id": last_id + 1, "when": now, "code": code})
    entry["history"] = history[-HISTORY:]


def api_status(probe: str, entry: dict[str, Any], period: int | None, now: float) -> dict[str, Any]:
    return {
        "probePath": f"/{probe}",
        "failNext": fail_next_left(entry, period, now),
        "history": [
            {
                "id": h["id"],
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h["when"])),
                "relWhen": f"{max(0, round(now - h['when']))}s ago",
                "code": h["code"],
            }
            for h in reversed(entry.get("history") or [])
        ],
    }


def fail_next_parse(body: bytes) -> int:
    """``{"failNext": N}`` -> N; ValueError with kuard's kind of message otherwise."""
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object like {"failNext": 3}')
    value = data.get("failNext", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError('failNext must be a whole number, like {"failNext": 3}')
    return value
