"""Rate limits as data (pure): what a limit is, the defaults, parsing "30/m", client networks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

WINDOWS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    scope: str
    count: int
    seconds: int


# scope -> (count, window); the defaults, each overridable by KUBELAB_RATE_LIMITS.
DEFAULT_LIMITS: dict[str, str] = {
    "signup": "10/h",  # sign-ups per client network
    "signup-all": "300/h",  # sign-ups on the whole site
    "login": "30/10m",  # login attempts per client network
    "login-user": "10/10m",  # login attempts per username (online guessing)
    "guest": "5/h",  # guest starts per client network (KUBELAB_GUEST_PER_IP_HOUR)
    "check": "30/m",  # Check presses per learner
    "hint": "20/m",  # hints revealed per learner
    "setup": "10/10m",  # an imported scenario's step set up per learner (a jail, kubectl calls)
    "help": "10/10m",  # "Ask for help" pressed or cancelled per learner (each flags gradebooks)
    "auto-check": "10/m",  # auto-check switched on per learner
    "pod-page": "240/m",  # pod-port page requests per learner (a page pulls several)
    "pod-token": "10/m",  # fresh tokens the pod-port view may mint per learner
    "reset": "10/10m",  # environment resets per learner (each empties a namespace)
    "denials": "60/m",  # reads of the learner's refusal notices
    "picture": "120/m",  # namespace pictures and their objects opened per viewer (API reads each)
    "studio": "120/m",  # studio drafts saved and checked per author (the editor saves as they type)
    "studio-test": "20/h",  # content tests per author (each makes namespaces on the cluster)
}


def parse_rate(text: str) -> tuple[int, int]:
    """'30/m', '10/10m', '5/h' -> (count, seconds); ValueError saying what is wrong."""
    count_text, _slash, window = text.strip().partition("/")
    if not _slash or not count_text.isdigit():
        raise ValueError(f"{text!r} is not COUNT/WINDOW (like 30/m or 10/10m)")
    unit = window[-1:]
    amount = window[:-1] or "1"
    if unit not in WINDOWS or not amount.isdigit() or int(amount) == 0:
        raise ValueError(f"{text!r}: the window must be like s, m, h, d, 10m or 2h")
    return int(count_text), int(amount) * WINDOWS[unit]


def client_network(address: str) -> str:
    """What a per-client limit counts by: the address, or its /64 for IPv6 (one client usually
    holds a whole /64 and could otherwise use a fresh address for every request)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
