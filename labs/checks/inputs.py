"""What the engine is handed: a ``Snapshot`` of the learner's namespace (its objects as plain
mappings, the nodes, how each script check's script ended as a ``ScriptRun``) or, when the
cluster could not be read, why not and what the learner is told then; ``labs.snapshot`` takes
snapshots, the engine only reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labs.messages import Msg
from labs.messages import gettext_noop as _

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class ScriptRun:
    """How a script check's script ended. ``error`` is set when it could not run at all."""

    exit_code: int | None
    output: str = ""
    timed_out: bool = False
    error: str = ""
    # Not run because another check of the exercise already fails (see declarative_fails).
    skipped: bool = False


# Inconclusive results say why, so a learner whose environment is still starting is not told
# the cluster is down; neither counts against them.
CLUSTER_DID_NOT_ANSWER = Msg.of(
    _("The cluster did not answer; this is checked again shortly and does not count against you.")
)
# A regrade from kept evidence (labs.evidence) that lacks what the fixed spec reads.
EVIDENCE_SHORT = Msg.of(
    _(
        "This was regraded from your last check, which did not record what it checks now; "
        "your next check grades it again."
    )
)
# What a grading records as found while there is no namespace yet; pages show "starting", not
# the amber "could not check", for a result that says only this.
ENVIRONMENT_STARTING_DETAIL = "your environment is not ready yet"
ENVIRONMENT_STARTING = Msg.of(
    _("Your environment is still starting; this is checked again as soon as it is ready.")
)


@dataclass(frozen=True)
class Snapshot:
    namespace: str
    objects: Mapping[str, Sequence[Obj]] = field(default_factory=dict)
    nodes: Sequence[Obj] | None = None
    scripts: Mapping[str, ScriptRun] = field(default_factory=dict)
    # Why the cluster could not be read (unreachable, timed out); None when it was.
    unavailable: str | None = None
    # What the learner is told then (translated later); None: the cluster did not answer.
    unavailable_reason: Msg | None = None
