"""The declarative models of a lab.yaml: one pydantic model per check type (``Check`` is their
union, told apart by ``type``) and the steps, near misses, solution policy, exercises and labs
that hold them, with the validators that say what is valid; reporting a validation error as
file, line and field belongs in ``labs.spec.problems``, and rules spanning several fields (ids,
file references) in ``labs.spec.crosschecks``."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from labs.kubevalues import QuantityError, quantity_parse
from labs.messages import Msg, verbatim
from labs.messages import gettext_noop as _
from labs.spec.fields import (
    FileName,
    JsonPathText,
    Kind,
    ObjectName,
    Selector,
    Slug,
    SpecValueError,
    Text,
    WorkloadKind,
    _Model,
)

# ---------------------------------------------------------------------------------------------
# Checks


class _CheckBase(_Model):
    id: Slug
    # What the learner reads when this check fails; without it the engine writes a specific
    # message from the check itself ("Pod kuard has no label env").
    message: Text | None = None
    # Partial credit: what passing this check is worth on its own. When any check of an
    # exercise has points, the exercise is worth their sum (a check without them, nothing).
    points: int | None = Field(default=None, ge=0, le=100)


class _Targeted(_CheckBase):
    kind: Kind
    name: ObjectName | None = None
    selector: Selector | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _Targeted:
        if (self.name is None) == (self.selector is None):
            raise SpecValueError(
                Msg.of(_("give exactly one of `name` and `selector`")),
                Msg.of(
                    _("`name: kuard` for one object, `selector: app=kuard` for every object with "
                      "those labels")
                ),
            )  # fmt: skip
        return self


class ExistsCheck(_Targeted):
    type: Literal["exists"]


class AbsentCheck(_Targeted):
    type: Literal["absent"]


_FIELD_OPERATORS = ("equals", "matches", "contains", "exists", "quantity", "at_least", "at_most")


class FieldCheck(_Targeted):
    type: Literal["field"]
    path: JsonPathText
    equals: Any = None
    matches: str | None = None
    contains: Any = None
    exists: bool | None = None
    quantity: str | int | float | None = None
    at_least: float | None = None
    at_most: float | None = None
    # any: one of the values the path reaches must satisfy the test; all: every value must.
    match: Literal["any", "all"] = "any"

    @model_validator(mode="after")
    def _operators(self) -> FieldCheck:
        given = [name for name in _FIELD_OPERATORS if name in self.model_fields_set]
        if not given:
            raise SpecValueError(
                Msg.of(_("say what the field must be")),
                Msg.of(
                    _("add one of {operators}"),
                    operators=", ".join(f"`{name}:`" for name in _FIELD_OPERATORS),
                ),
            )
        if len(given) > 1 and set(given) != {"at_least", "at_most"}:
            raise SpecValueError(
                Msg.of(_("use one test per check, not {given}"), given=" + ".join(given)),
                Msg.of(_("split it into two checks")),
            )
        if "quantity" in self.model_fields_set:
            try:
                quantity_parse(self.quantity)
            except QuantityError as exc:
                raise SpecValueError(
                    verbatim(str(exc)), Msg.of(_("write it like 500m, 1, 128Mi"))
                ) from None
        return self

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise SpecValueError(
                    Msg.of(_("not a valid regular expression ({error})"), error=str(exc)),
                    Msg.of(_("escape special characters like . and ( with a backslash")),
                ) from None
        return value


class _MetadataCheck(_Targeted):
    key: Annotated[str, StringConstraints(min_length=1, max_length=316)]
    equals: str | None = None
    present: bool | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _one_test(self) -> _MetadataCheck:
        given = [n for n in ("equals", "present", "contains") if n in self.model_fields_set]
        if len(given) != 1:
            raise SpecValueError(
                Msg.of(_("give exactly one of `equals`, `present` and `contains`")),
                Msg.of(
                    _("`equals: prod` to require a value, `present: false` to require the key "
                      "to be gone")
                ),
            )  # fmt: skip
        return self


class LabelCheck(_MetadataCheck):
    type: Literal["label"]

    @field_validator("equals", mode="before")
    @classmethod
    def _label_value_is_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise SpecValueError(
                Msg.of(_("label values are text, so {value} never matches"), value=repr(value)),
                Msg.of(_('quote it: "{value}"'), value=str(value)),
            )
        return value


class AnnotationCheck(_MetadataCheck):
    type: Literal["annotation"]


class CountCheck(_CheckBase):
    type: Literal["count"]
    kind: Kind
    selector: Selector = ""
    equals: int | None = Field(default=None, ge=0)
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> CountCheck:
        if self.equals is None and self.at_least is None and self.at_most is None:
            raise SpecValueError(
                Msg.of(_("say how many")), Msg.of(_("add `equals: 3` (or `at_least`/`at_most`)"))
            )
        if self.equals is not None and (self.at_least is not None or self.at_most is not None):
            raise SpecValueError(
                Msg.of(_("`equals` cannot be combined with bounds")), Msg.of(_("keep one of them"))
            )
        return self


class ReadyCheck(_Targeted):
    type: Literal["ready"]
    kind: WorkloadKind
    replicas: int | None = Field(default=None, ge=0)


class OwnerRef(_Model):
    kind: Kind
    name: ObjectName


class OwnerCheck(_Targeted):
    """Objects are owned by `owner` (through any chain of owners), or by nothing when it is null."""

    type: Literal["owner"]
    kind: Kind = "Pod"
    owner: OwnerRef | None


class JobCheck(_CheckBase):
    type: Literal["job"]
    name: ObjectName
    succeeded: int | None = Field(default=None, ge=1)
    complete: bool = True


class ServiceSelectsCheck(_CheckBase):
    """The Service's selector picks exactly the pods matching `pods`, and at least one."""

    type: Literal["service_selects"]
    service: ObjectName
    pods: Selector


class PodsOnNodesCheck(_CheckBase):
    """Every pod matching `pods` runs on a node matching `nodes`; with every_node, each such node
    runs exactly one of them."""

    type: Literal["pods_on_nodes"]
    pods: Selector
    nodes: Selector = ""
    every_node: bool = False


class ScriptCheck(_CheckBase):
    """The escape hatch: a shell script run with the learner's kubeconfig; exit 0 passes."""

    type: Literal["script"]
    run: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    timeout: float = Field(default=10.0, gt=0, le=30)


Check = Annotated[
    ExistsCheck
    | AbsentCheck
    | FieldCheck
    | LabelCheck
    | AnnotationCheck
    | CountCheck
    | ReadyCheck
    | OwnerCheck
    | JobCheck
    | ServiceSelectsCheck
    | PodsOnNodesCheck
    | ScriptCheck,
    Field(discriminator="type"),
]
CHECK_TYPES = (
    "exists",
    "absent",
    "field",
    "label",
    "annotation",
    "count",
    "ready",
    "owner",
    "job",
    "service_selects",
    "pods_on_nodes",
    "script",
)

# ---------------------------------------------------------------------------------------------
# Exercises and labs


class Steps(_Model):
    """Shell commands run in a copy of the lab's files/ folder, with the learner's kubeconfig."""

    files: list[FileName] = Field(default_factory=list)
    commands: list[Annotated[str, StringConstraints(min_length=1, max_length=4000)]] = Field(
        min_length=1
    )


class NearMiss(Steps):
    """A plausible wrong solution; the content test proves the listed checks reject it."""

    id: Slug
    description: Text
    fails: list[Slug] = Field(min_length=1)


class SolutionPolicy(_Model):
    # always: from the start; after-checks: once the learner has pressed Check `checks` times;
    # after-pass: only once the exercise is done; never.
    show: Literal["always", "after-checks", "after-pass", "never"] = "after-checks"
    checks: int = Field(default=3, ge=1, le=50)


class Exercise(_Model):
    id: Slug
    title: Text
    instructions: Text
    hints: list[Text] = Field(default_factory=list)
    checks: list[Check] = Field(min_length=1)
    setup: Steps | None = None
    solution: Steps
    # The lab's policy, unless this exercise has its own. The rule the catalog keeps
    # (tests/labs/test_solution_lock.py): the lock protects only what the lesson does not show,
    # so an exercise whose every solution file and command is in its chapter says `always`.
    solution_policy: SolutionPolicy | None = None
    near_misses: list[NearMiss] = Field(min_length=1)
    # Graded on every change in the learner's namespace (besides the Check button).
    auto_check: bool = True
    # What completing it is worth in a class's gradebook and exports (0: practice only).
    points: int = Field(default=1, ge=0, le=100)

    @model_validator(mode="after")
    def _points_from_checks(self) -> Exercise:
        if not self.partial_credit:
            return self
        total = sum(check.points or 0 for check in self.checks)
        if "points" in self.model_fields_set and self.points != total:
            raise SpecValueError(
                Msg.of(
                    _("points is {points} but the checks' points add up to {total}"),
                    points=self.points, total=total,
                ),
                Msg.of(
                    _("drop the exercise's points (with points on its checks it is worth their "
                      "sum) or make the two agree")
                ),
            )  # fmt: skip
        if total > 100:
            raise SpecValueError(
                Msg.of(_("the checks' points add up to {total}, more than 100"), total=total),
                Msg.of(_("lower them")),
            )
        object.__setattr__(self, "points", total)  # frozen model: set once, while validating
        return self

    @property
    def partial_credit(self) -> bool:
        """Some checks carry points: a failed grading still earns those of its passing checks."""
        return any(check.points is not None for check in self.checks)

    def check(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)


class Reading(_Model):
    """Text to read between exercises, with nothing to check: an imported scenario's intro, its
    finish, and a step kubelab cannot grade (``why`` says what it needs that a learner's
    namespace does not have)."""

    id: Slug
    title: Text
    text: Text
    # The exercise it follows; none: before the first exercise.
    after: Slug | None = None
    why: Text | None = None


class Lab(_Model):
    slug: Slug
    title: Text
    chapter: Slug
    order: int = Field(ge=1, le=99)
    summary: Text | None = None
    solution_policy: SolutionPolicy = Field(default_factory=SolutionPolicy)
    exercises: list[Exercise] = Field(min_length=1)
    readings: list[Reading] = Field(default_factory=list)
    # Written for a cluster of one's own (an imported Killercoda scenario): its steps and script
    # checks see every namespace they name (`-n ios`, `namespace: ios`, `-A`) as the learner's
    # own, and its exercises' setups are the learner's to run (a "Set up" button), because the
    # starting state they make is what the exercise is about.
    scenario: bool = False
    # Filled by the loader from files/ (never from lab.yaml): name -> text.
    files: dict[str, str] = Field(default_factory=dict, exclude=True)

    def policy_for(self, exercise: Exercise) -> SolutionPolicy:
        """When the exercise's solution may be shown: its own policy, else the lab's."""
        return exercise.solution_policy or self.solution_policy

    @model_validator(mode="after")
    def _unique_exercises(self) -> Lab:
        ids = [exercise.id for exercise in self.exercises]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise SpecValueError(
                Msg.of(_("exercise id {id} is used twice"), id=repr(duplicates[0])),
                Msg.of(_("give every exercise its own id")),
            )
        return self

    @model_validator(mode="after")
    def _readings_placed(self) -> Lab:
        ids = {exercise.id for exercise in self.exercises}
        seen: set[str] = set()
        for reading in self.readings:
            if reading.after is not None and reading.after not in ids:
                raise SpecValueError(
                    Msg.of(
                        _("reading {reading} follows exercise {id}, which this lab does not have"),
                        reading=repr(reading.id), id=repr(reading.after),
                    ),
                    Msg.of(_("name one of the lab's exercise ids, or drop `after`")),
                )  # fmt: skip
            if reading.id in seen or reading.id in ids:
                raise SpecValueError(
                    Msg.of(_("reading id {id} is used twice"), id=repr(reading.id)),
                    Msg.of(_("give every exercise and reading its own id")),
                )
            seen.add(reading.id)
        return self

    def learner_setup(self, exercise: Exercise) -> Steps | None:
        """The setup a learner may run themselves ("Set up this step"): an imported scenario's
        only; a catalog lab's setup is the state the learner's own earlier work makes."""
        return exercise.setup if self.scenario else None

    def readings_after(self, exercise_id: str | None) -> list[Reading]:
        """The readings placed after this exercise (None: before the first), in order."""
        return [r for r in self.readings if r.after == exercise_id]

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(exercise_id)
