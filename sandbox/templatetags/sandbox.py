"""What a reset deletes, for the terminal panel's confirmation: the kinds a reset wipes, read
from the one table of kinds, so the sentence cannot drift from what the code deletes."""

from __future__ import annotations

from django import template

import k8s

register = template.Library()


@register.simple_tag
def reset_wipes() -> str:
    """ "Deployments, DaemonSets, Jobs, …" in the order a reset deletes them."""
    return ", ".join(f"{info.kind}s" for info in k8s.kinds.WIPED)
