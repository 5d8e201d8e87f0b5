"""kuard's KeyGen workload API, simulated: ``GET /keygen`` reports ``{"config", "history"}``,
``PUT /keygen`` with a config (``{"enable": true, "numToGen": 0, "timeToRun": 0}``) restarts
the workload with it, as kuard does. kuard's workload makes 4096-bit RSA keys one after another
and so keeps a core busy: it is how a learner puts kuard under CPU load.

Nothing burns CPU here. The kubelet shim reports the CPU kuard would use to metrics-server
(cluster/kubelet-shim/metrics.go), from the ``keygen`` section of the demo state this module
writes: the config, since when it runs, and the busy seconds of earlier configs (``banked``,
so usage never runs backwards). Before any PUT the section is absent and both sides go by the
container's ``--keygen-*`` flags from its start. KEY_SECONDS is the same figure on both sides.
Stdlib only: it runs in the demo app's jail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from podsim.startuplog import keygen_flags

KEY_SECONDS = 2.0  # one 4096-bit RSA key on one core
HISTORY = 20  # kuard keeps the last 20 lines
MAX_NUMBER = 10**9  # numToGen and timeToRun beyond this are refused, not overflowed
CONFIG_DEFAULTS: dict[str, Any] = {
    "enable": False,
    "numToGen": 0,
    "timeToRun": 0,
    "exitOnComplete": False,
    "exitCode": 0,
    "memQServer": "",
    "memQQueue": "",
}


def started_at(pod: Mapping[str, Any], container: str) -> float | None:
    """When the container's current instance started (its status), as a Unix time."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") != container:
            continue
        started = ((status.get("state") or {}).get("running") or {}).get("startedAt")
        if isinstance(started, str):
            try:
                return datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


def current(
    section: Mapping[str, Any] | None, container: Mapping[str, Any], started: float | None
) -> dict[str, Any]:
    """The workload in force: the last PUT's, else the one the flags started with."""
    if section is not None:
        return dict(section)
    flags = keygen_flags(container) or {}
    return {
        "enable": bool(flags.get("enable")),
        "numToGen": max(int(flags.get("num-to-gen") or 0), 0),
        "timeToRun": max(int(flags.get("time-to-run") or 0), 0),
        "since": started or 0.0,
        "banked": 0.0,
    }


def busy_seconds(run: Mapping[str, Any], now: float) -> float:
    """How long the run has kept a core busy by `now` (metrics.go's busySeconds)."""
    if not run.get("enable"):
        return 0.0
    since = float(run.get("since") or 0.0)
    end = math.inf
    if int(run.get("timeToRun") or 0) > 0:
        end = since + int(run["timeToRun"])
    if int(run.get("numToGen") or 0) > 0:
        end = min(end, since + int(run["numToGen"]) * KEY_SECONDS)
    return max(min(now, end) - since, 0.0)


def parse_config(body: bytes) -> dict[str, Any]:
    """A PUT body: a JSON object with kuard's config fields. ValueError says what is wrong."""
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError('send a JSON object, for example {"enable": true}')
    config = dict(CONFIG_DEFAULTS)
    for key in ("enable", "exitOnComplete"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ValueError(f"{key} must be true or false")
            config[key] = data[key]
    for key in ("numToGen", "timeToRun", "exitCode"):
        if key in data:
            value = data[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_NUMBER
            ):
                raise ValueError(f"{key} must be a whole number from 0 to {MAX_NUMBER}")
            config[key] = value
    for key in ("memQServer", "memQQueue"):
        if key in data:
            if not isinstance(data[key], str):
                raise ValueError(f"{key} must be a string")
            config[key] = data[key][:256]
    return config


def restart(
    state: dict[str, Any],
    config: Mapping[str, Any],
    container: Mapping[str, Any],
    started: float | None,
    now: float,
) -> None:
    """Apply a PUT: bank what the old run used, start the new one now."""
    old = current(state.get("keygen"), container, started)
    banked = float(old.get("banked") or 0.0) + busy_seconds(old, now)
    state["keygen"] = {
        **config,
        "since": now,
        "banked": banked,
        "run": int(old.get("run") or 0) + 1,  # kuard numbers its workloads (the log's ID)
    }


def status(
    section: Mapping[str, Any] | None,
    container: Mapping[str, Any],
    started: float | None,
    seed: str,
    now: float,
) -> dict[str, Any]:
    """What kuard's GET /keygen answers: the config and the last lines of its workload."""
    run = current(section, container, started)
    config = {**CONFIG_DEFAULTS, **{k: run[k] for k in CONFIG_DEFAULTS if k in run}}
    workload = int(run.get("run") or 0)
    lines: list[str] = []
    if run.get("enable"):
        lines.append(f"(ID {workload}) Workload starting")
        made = int(busy_seconds(run, now) // KEY_SECONDS)
        total = int(run.get("numToGen") or 0)
        if total:
            made = min(made, total)
        for i in range(max(made - HISTORY, 0) + 1, made + 1):
            digest = hashlib.sha256(f"{seed}/{workload}/{i}".encode()).digest()
            fingerprint = base64.b64encode(digest).decode().rstrip("=")
            count = f"{i}/{total}" if total else f"{i}/Inf"
            lines.append(f"(ID {workload} {count}) Item done: SHA256:{fingerprint}")
        since = float(run.get("since") or 0.0)
        ttr = int(run.get("timeToRun") or 0)
        if (total and made >= total) or (ttr and now >= since + ttr):
            lines.append(f"(ID {workload}) Workload exiting")
    history = [{"id": i, "data": line} for i, line in enumerate(lines)][-HISTORY:]
    return {"config": config, "history": history}
