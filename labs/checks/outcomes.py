"""What the engine returns: a ``CheckOutcome`` per check (pass; fail, with a message for the
learner and what was found; or inconclusive) and an ``ExerciseOutcome`` summing them up, which
``labs.services`` stores and ``labs.translation`` renders in each language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labs.messages import Msg, MsgList

CheckStatus = Literal["pass", "fail", "inconclusive"]
ExerciseStatus = Literal["passed", "failed", "inconclusive"]


@dataclass(frozen=True)
class CheckOutcome:
    check_id: str
    status: CheckStatus
    # For the learner when it fails: the author's message, else a specific generated one
    # (English here; ``problem`` carries it for translation).
    message: Mapping[str, str]
    # What the engine found, in plain English ("Pod kuard: .spec.containers[0].image is ...").
    detail: str
    evidence: tuple[Mapping[str, Any], ...] = ()
    # The generated message as a message id and parameters, for translation (None when the
    # check passed or its author wrote the message).
    problem: Msg | MsgList | None = None
    # When the author wrote the message (the expectation), what the engine found instead, as a
    # message for translation: "…, but it is [{containerPort: 80}]". The learner reads both.
    found: Msg | MsgList | None = None
    # The object the check is about, when it failed because there is none ("Pod/kuard"): the
    # exercise then says so once, not once per check on it.
    missing_target: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass(frozen=True)
class ExerciseOutcome:
    status: ExerciseStatus
    checks: tuple[CheckOutcome, ...]

    def check(self, check_id: str) -> CheckOutcome:
        for outcome in self.checks:
            if outcome.check_id == check_id:
                return outcome
        raise KeyError(check_id)

    def failing(self) -> list[str]:
        return [c.check_id for c in self.checks if c.status == "fail"]
