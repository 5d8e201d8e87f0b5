"""Live notices of what the cluster refused a learner's controllers: a Deployment scaled past
the pod quota says "created" and quietly stops at 20 Pods; the reason is only in an Event.

The watcher calls ``denials_announce`` when a FailedCreate warning appears in a learner's
namespace and again while a notice is up and the namespace changes, so the notice goes away
once the learner scales down. Pages get ``{"type": "sandbox.denials", "denials": [...]}``.
"""

from __future__ import annotations

import hashlib
import json

from kubelab.events import user_event_send_now
from sandbox.models import LearnerEnvironment
from sandbox.selectors import sandbox_denials


def denials_announce(*, user_id: int, previous: str | None = None) -> tuple[str, int]:
    """Send the learner's current denials when they differ from what ``previous`` (a signature
    this returned before) described; returns the new signature and how many there are."""
    environment = LearnerEnvironment.objects.filter(user_id=user_id).first()
    denials = sandbox_denials(environment=environment)
    # The time of the newest event changes with every retry of the controller; what the
    # learner reads does not, so it is left out of the comparison.
    shown = [{k: v for k, v in d.items() if k != "at"} for d in denials]
    signature = hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]
    if signature != previous:
        user_event_send_now(user_id=user_id, event={"type": "sandbox.denials", "denials": denials})
    return signature, len(denials)
