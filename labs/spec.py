"""Lab specs: the pydantic models of `labs/catalog/<slug>/lab.yaml` and a loader whose errors name
the file, the line, the field and the fix.

Pure: imports neither Django nor ``kubernetes``. ``catalog_load()`` returns every lab or raises
``SpecError`` listing every problem of every lab, for example::

    labs/catalog/pods/lab.yaml:31: exercises[0].checks[2].type: unknown check type 'exist'.
      Fix: use one of absent, annotation, count, exists, field, job, label, owner, ready,
      script, service_selects, pods_on_nodes.

Layout of a lab directory::

    lab.yaml         title, chapter, solution policy, exercises (instructions, hints, checks,
                     setup, solution, near misses)
    files/           manifests and scripts that setup, solutions and near misses use; commands
                     refer to them by bare file name (they run in a copy of this folder)
"""

from __future__ import annotations

import difflib
import re
import shlex
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from labs.jsonpath import JsonPathError, jsonpath_compile
from labs.kubevalues import QuantityError, SelectorError, quantity_parse, selector_parse
from tutorials.yamlpos import error_line, node_line

__all__ = [
    "CATALOG_DIR",
    "Check",
    "Exercise",
    "Lab",
    "NearMiss",
    "Problem",
    "SpecError",
    "Steps",
    "catalog_load",
    "lab_load",
    "lab_parse",
]

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
LANGUAGES = ("en", "zh-hant")
MAX_SPEC_BYTES = 512 * 1024
MAX_NODES = 20_000

# Kinds a check may look at; the snapshot fetches exactly these through the gateway.
Kind = Literal[
    "Pod",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "ConfigMap",
    "ServiceAccount",
    "ReplicaSet",
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
]
NAMESPACED_KINDS: tuple[str, ...] = get_args(Kind)
WorkloadKind = Literal["Pod", "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet"]

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=63)]
# Kubernetes object names (DNS subdomain).
ObjectName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253),
]
FileName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
]


def _text(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict):
        raise ValueError(
            "expected text or a mapping of languages to text. Fix: write the English text, or "
            "`en: ...` and `zh-hant: ...`"
        )
    unknown = [key for key in value if key not in LANGUAGES]
    if unknown:
        raise ValueError(f"unknown language {unknown[0]!r}. Fix: use only {', '.join(LANGUAGES)}")
    if "en" not in value:
        raise ValueError("English text is missing. Fix: add `en: ...`")
    for language, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"the {language} text is empty. Fix: write the text or drop it")
    return {str(k): str(v) for k, v in value.items()}


Text = Annotated[dict[str, str], BeforeValidator(_text)]


def _parsed_text(
    what: str, parse: Callable[[str], object], error: type[ValueError], fix: str
) -> Callable[[Any], str]:
    """A validator for text in a small language (selectors, paths): parsed at load, kept as text;
    a parse error becomes the parser's own message plus how to fix it."""

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{what}. Fix: quote it")
        try:
            parse(value)
        except error as exc:
            raise ValueError(f"{exc}. Fix: {fix}") from None
        return value

    return validate


Selector = Annotated[
    str,
    BeforeValidator(
        _parsed_text(
            "a selector is text like `app=alpaca,env=prod`",
            selector_parse,
            SelectorError,
            "write it like app=alpaca,ver in (1,2),!canary",
        )
    ),
]
JsonPathText = Annotated[
    str,
    BeforeValidator(
        _parsed_text(
            "a path is text like `.spec.containers[0].image`",
            jsonpath_compile,
            JsonPathError,
            "use .field, ['key'], [0], [*] and [?(@.name==\"x\")] only",
        )
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# ---------------------------------------------------------------------------------------------
# Checks


class _CheckBase(_Model):
    id: Slug
    # What the learner reads when this check fails; without it the engine writes a specific
    # message from the check itself ("Pod kuard has no label env").
    message: Text | None = None


class _Targeted(_CheckBase):
    kind: Kind
    name: ObjectName | None = None
    selector: Selector | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _Targeted:
        if (self.name is None) == (self.selector is None):
            raise ValueError(
                "give exactly one of `name` and `selector`. Fix: `name: kuard` for one object, "
                "`selector: app=kuard` for every object with those labels"
            )
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
            raise ValueError(
                "say what the field must be. Fix: add one of "
                + ", ".join(f"`{name}:`" for name in _FIELD_OPERATORS)
            )
        if len(given) > 1 and set(given) != {"at_least", "at_most"}:
            raise ValueError(
                f"use one test per check, not {' and '.join(given)}. Fix: split it into two checks"
            )
        if "quantity" in self.model_fields_set:
            try:
                quantity_parse(self.quantity)
            except QuantityError as exc:
                raise ValueError(f"{exc}. Fix: write it like 500m, 1, 128Mi") from None
        return self

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"not a valid regular expression ({exc}). Fix: escape special characters "
                    "like . and ( with a backslash"
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
            raise ValueError(
                "give exactly one of `equals`, `present` and `contains`. Fix: `equals: prod` to "
                "require a value, `present: false` to require the key to be gone"
            )
        return self


class LabelCheck(_MetadataCheck):
    type: Literal["label"]

    @field_validator("equals", mode="before")
    @classmethod
    def _label_value_is_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError(
                f'label values are text, so {value!r} never matches. Fix: quote it: "{value}"'
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
            raise ValueError("say how many. Fix: add `equals: 3` (or `at_least`/`at_most`)")
        if self.equals is not None and (self.at_least is not None or self.at_most is not None):
            raise ValueError("`equals` cannot be combined with bounds. Fix: keep one of them")
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
    near_misses: list[NearMiss] = Field(min_length=1)
    # Graded on every change in the learner's namespace (besides the Check button).
    auto_check: bool = True

    def check(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)


class Lab(_Model):
    slug: Slug
    title: Text
    chapter: Slug
    order: int = Field(ge=1, le=99)
    summary: Text | None = None
    solution_policy: SolutionPolicy = Field(default_factory=SolutionPolicy)
    exercises: list[Exercise] = Field(min_length=1)
    # Filled by the loader from files/ (never from lab.yaml): name -> text.
    files: dict[str, str] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _unique_exercises(self) -> Lab:
        ids = [exercise.id for exercise in self.exercises]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(
                f"exercise id {duplicates[0]!r} is used twice. Fix: give every exercise its own id"
            )
        return self

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(exercise_id)


# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}" + (f" Fix: {self.fix}" if self.fix else "")


class SpecError(ValueError):
    """One or more labs are invalid; ``problems`` says where and how to fix each."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid lab spec")


# ---------------------------------------------------------------------------------------------
# Loading


Path_ = tuple[str | int, ...]


def _node_positions(root: yaml.Node, file: str) -> dict[Path_, int]:
    """Line numbers of every key and item; rejects duplicate keys and alias bombs."""
    positions: dict[Path_, int] = {(): node_line(root)}
    budget = [MAX_NODES]
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecError(
                [
                    Problem(
                        file,
                        None,
                        "",
                        f"the spec expands to more than {MAX_NODES} values",
                        "split the lab, or stop reusing large anchors (&name / *name)",
                    )
                ]
            )
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                line = node_line(key_node)
                if key is not None:
                    if key in seen:
                        raise SpecError(
                            [
                                Problem(
                                    file,
                                    line,
                                    _dotted((*path, key)),
                                    f"duplicate key {key!r} (first on line {seen[key]})",
                                    "keep one of them; YAML would silently drop the first",
                                )
                            ]
                        )
                    seen[key] = line
                    positions[(*path, key)] = line
                    stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                positions[(*path, index)] = node_line(item)
                stack.append((item, (*path, index)))
    return positions


def _dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path_:
    """The part of a pydantic error location that exists in the data (drops union tags)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        in_map = isinstance(current, dict) and isinstance(part, str) and part in current
        if in_list or in_map:
            current = current[part]
            path.append(part)
        elif isinstance(part, str) and isinstance(current, dict):
            # Either a union tag (skip it) or a missing/extra field (stop here but name it).
            if part in CHECK_TYPES:
                continue
            path.append(part)
            break
    return tuple(path)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class a pydantic error location points into, to list its fields."""
    current: Any = Lab
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0], part)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(part, str) and part in annotation.model_fields:
            return annotation.model_fields[part].annotation
        # A union tag (the check type) or an unknown field: stay on this model.
        return annotation if isinstance(part, str) else None
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if isinstance(part, str):
            for member in members:
                member = typing.get_args(member)[0] if typing.get_origin(member) else member
                if isinstance(member, type) and issubclass(member, BaseModel):
                    tag = member.model_fields.get("type")
                    if tag is not None and typing.get_args(tag.annotation) == (part,):
                        return member
        if len(members) == 1:
            return _unwrap(members[0], part)
        for member in members:
            unwrapped = _unwrap(member, part)
            if unwrapped is not None:
                return unwrapped
    return None


def _problem_from_error(error: Mapping[str, Any], data: Any, file: str, lines: dict[Path_, int]):
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "union_tag_invalid":
        loc = (*loc, "type")  # point at the `type:` line itself
    path = _data_path(data, loc)
    line = None
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            line = lines[path[:cut]]
            break
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value"))
    fix = ""
    name = str(path[-1]) if path else ""
    if kind == "missing":
        message = f"`{name}` is required"
        fix = f"add `{name}:` here"
    elif kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        allowed = [a for a in allowed if a != "files" or model is not Lab]
        guess = difflib.get_close_matches(name, allowed, n=1)
        message = f"unknown field `{name}`"
        fix = (f"did you mean `{guess[0]}`? " if guess else "") + (
            f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
        )
    elif kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", "")
        message = f"unknown check type {tag!r}"
        guess = difflib.get_close_matches(str(tag), CHECK_TYPES, n=1)
        fix = (
            (f"did you mean {guess[0]!r}? " if guess else "")
            + "use one of "
            + ", ".join(CHECK_TYPES)
        )
    elif kind == "union_tag_not_found":
        message = "the check has no `type`"
        fix = "add `type:` with one of " + ", ".join(CHECK_TYPES)
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"{error.get('input')!r} is not allowed"
        fix = f"use {expected}"
    elif kind == "string_pattern_mismatch":
        message = f"{error.get('input')!r} is not a valid {name or 'value'}"
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        if pattern == SLUG_PATTERN:
            fix = "use lowercase letters, digits and single dashes, like kuard-pod"
        elif "A-Za-z0-9_.-" in pattern:
            fix = "name a file in the lab's files/ folder, like kuard-pod.yaml (no folders)"
        else:
            fix = "use a valid Kubernetes name: lowercase letters, digits, '-' and '.'"
    elif kind in ("value_error", "assertion_error"):
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if ". Fix: " in message:
            message, fix = message.split(". Fix: ", 1)
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        value = error.get("input")
        message = f"{message} (got {type(value).__name__})"
        if isinstance(value, bool):
            fix = "quote it: YAML reads yes/no/on/off/true/false as booleans"
        elif isinstance(value, dict) and kind == "string_type":
            fix = "quote it or use a block (>- or |): YAML reads a ': ' inside as a mapping"
        else:
            fix = "check the indentation and the value's type"
    elif kind == "too_short":
        fix = "add at least one item"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        fix = "pick a value in range"
    return Problem(file, line, _dotted(path), message, fix)


_FILE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.(?:ya?ml|json|sh)$")


def _manifest_problems(name: str, text: str, rel: str) -> list[Problem]:
    if not name.endswith((".yaml", ".yml")):
        return []
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        return [
            Problem(
                rel,
                error_line(exc),
                "",
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                "fix the indentation",
            )
        ]
    problems = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            problems.append(Problem(rel, None, f"document {index + 1}", "not a mapping", ""))
            continue
        if "apiVersion" not in document and "kind" not in document:
            continue  # not a manifest: a patch (kubectl patch --patch-file) or other input
        missing = [k for k in ("apiVersion", "kind", "metadata") if k not in document]
        if missing:
            problems.append(
                Problem(
                    rel,
                    None,
                    f"document {index + 1}",
                    f"missing {', '.join(missing)}",
                    "every manifest needs apiVersion, kind and metadata.name",
                )
            )
            continue
        metadata = document.get("metadata")
        if isinstance(metadata, dict) and "namespace" in metadata:
            problems.append(
                Problem(
                    rel,
                    None,
                    f"document {index + 1}.metadata.namespace",
                    "a solution manifest must not pin a namespace",
                    "remove metadata.namespace so it lands in the learner's own namespace",
                )
            )
    return problems


def _steps_problems(
    steps: Steps | None,
    where: str,
    files: Mapping[str, str],
    rel: str,
    lines: dict[Path_, int],
    path: Path_,
) -> list[Problem]:
    if steps is None:
        return []
    problems = []
    line = lines.get(path)
    for name in steps.files:
        if name not in files:
            problems.append(
                Problem(
                    rel,
                    lines.get((*path, "files")) or line,
                    f"{where}.files",
                    f"{name!r} is not in the lab's files/ folder",
                    f"add files/{name} or fix the name",
                )
            )
    for index, command in enumerate(steps.commands):
        try:
            tokens = shlex.split(command, comments=True)
        except ValueError as exc:
            problems.append(
                Problem(
                    rel,
                    lines.get((*path, "commands", index)) or line,
                    f"{where}.commands[{index}]",
                    f"not a valid shell command ({exc})",
                    "close the quote",
                )
            )
            continue
        if tokens and all("=" in token and not token.startswith("-") for token in tokens):
            problems.append(
                Problem(
                    rel,
                    lines.get((*path, "commands", index)) or line,
                    f"{where}.commands[{index}]",
                    f"{command!r} only sets shell variables; it looks like the rest of a command "
                    "that a comma split in two",
                    "a comma inside [a, b] separates YAML list items: write the commands as a "
                    "block list, one `- command` per line",
                )
            )
        for token in tokens:
            token = token.split("=", 1)[-1]
            if _FILE_TOKEN.match(token) and token not in steps.files:
                problems.append(
                    Problem(
                        rel,
                        lines.get((*path, "commands", index)) or line,
                        f"{where}.commands[{index}]",
                        f"uses {token!r}, which is not listed in `files`",
                        f"add {token} to `files:` (and to the lab's files/ folder)",
                    )
                )
    return problems


def _reference_problems(
    exercise: Exercise, where: str, file: str, lines: dict[Path_, int], base: Path_
) -> list[Problem]:
    """Ids must be unique, and near misses may only name checks that exist."""
    problems = []
    ids = [check.id for check in exercise.checks]
    seen: set[str] = set()
    for index, check_id in enumerate(ids):
        if check_id in seen:
            problems.append(
                Problem(
                    file,
                    lines.get((*base, "checks", index, "id")),
                    f"{where}.checks[{index}].id",
                    f"check id {check_id!r} is used twice",
                    "give every check its own id",
                )
            )
        seen.add(check_id)
    miss_ids: set[str] = set()
    for m_index, miss in enumerate(exercise.near_misses):
        if miss.id in miss_ids:
            problems.append(
                Problem(
                    file,
                    lines.get((*base, "near_misses", m_index, "id")),
                    f"{where}.near_misses[{m_index}].id",
                    f"near miss id {miss.id!r} is used twice",
                    "give each near miss its own id",
                )
            )
        miss_ids.add(miss.id)
        for f_index, check_id in enumerate(miss.fails):
            if check_id not in ids:
                guess = difflib.get_close_matches(check_id, ids, n=1)
                problems.append(
                    Problem(
                        file,
                        lines.get((*base, "near_misses", m_index, "fails", f_index))
                        or lines.get((*base, "near_misses", m_index, "fails")),
                        f"{where}.near_misses[{m_index}].fails[{f_index}]",
                        f"near miss {miss.id!r} expects check {check_id!r} to fail, but there is "
                        "no such check",
                        (f"did you mean {guess[0]!r}? " if guess else "")
                        + f"use one of {', '.join(ids)}",
                    )
                )
    return problems


def lab_parse(text: str, *, slug: str, file: str, files: Mapping[str, str] | None = None) -> Lab:
    """Validate one lab.yaml's text; ``files`` are the contents of its files/ folder."""
    files = dict(files or {})
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(
            [Problem(file, None, "", f"larger than {MAX_SPEC_BYTES} bytes", "split the lab")]
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SpecError(
            [
                Problem(
                    file,
                    error_line(exc),
                    "",
                    f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                    "check the indentation and quote values that contain ': ' or start with "
                    "a special character",
                )
            ]
        ) from None
    except RecursionError:
        raise SpecError([Problem(file, None, "", "nested too deeply", "flatten it")]) from None
    if root is None:
        raise SpecError([Problem(file, 1, "", "the file is empty", "start with `title:`")])
    lines = _node_positions(root, file)
    try:
        data = yaml.SafeLoader(text).get_single_data()
    except yaml.YAMLError as exc:
        raise SpecError(
            [
                Problem(
                    file,
                    error_line(exc),
                    "",
                    f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                    "use plain mappings, lists, text and numbers",
                )
            ]
        ) from None
    except (RecursionError, TypeError, ValueError, OverflowError) as exc:
        raise SpecError(
            [Problem(file, None, "", f"unreadable value ({exc.__class__.__name__})", "simplify")]
        ) from None
    if not isinstance(data, dict):
        raise SpecError(
            [
                Problem(
                    file,
                    lines.get(()),
                    "",
                    f"the top level is a {type(data).__name__}, not a mapping",
                    "start with `title:`, `chapter:`, `order:` and `exercises:`",
                )
            ]
        )
    for reserved in ("slug", "files"):
        if reserved in data:
            raise SpecError(
                [
                    Problem(
                        file,
                        lines.get((reserved,)),
                        reserved,
                        f"`{reserved}` is not set in lab.yaml",
                        "remove it: the folder name is the slug and files/ holds the files",
                    )
                ]
            )
    try:
        lab = Lab.model_validate({**data, "slug": slug, "files": files})
    except ValidationError as exc:
        raise SpecError(
            [_problem_from_error(error, data, file, lines) for error in exc.errors()]
        ) from None
    except RecursionError:
        raise SpecError([Problem(file, None, "", "nested too deeply", "flatten it")]) from None
    problems: list[Problem] = []
    for e_index, exercise in enumerate(lab.exercises):
        base: Path_ = ("exercises", e_index)
        where = f"exercises[{e_index}]"
        problems += _reference_problems(exercise, where, file, lines, base)
        problems += _steps_problems(
            exercise.setup, f"{where}.setup", files, file, lines, (*base, "setup")
        )
        problems += _steps_problems(
            exercise.solution, f"{where}.solution", files, file, lines, (*base, "solution")
        )
        for m_index, miss in enumerate(exercise.near_misses):
            problems += _steps_problems(
                miss,
                f"{where}.near_misses[{m_index}]",
                files,
                file,
                lines,
                (*base, "near_misses", m_index),
            )
    if problems:
        raise SpecError(problems)
    return lab


def lab_load(directory: Path, *, root: Path | None = None) -> Lab:
    """Load and validate `directory/lab.yaml` and its files/ folder."""
    base = root.parent.parent if root is not None else directory.parent.parent.parent
    spec_file = directory / "lab.yaml"
    rel = _relative(spec_file, base)
    slug = directory.name
    if not re.match(SLUG_PATTERN, slug):
        raise SpecError(
            [
                Problem(
                    _relative(directory, base),
                    None,
                    "",
                    f"{slug!r} is not a valid lab slug",
                    "rename the folder with lowercase letters, digits and dashes",
                )
            ]
        )
    if not spec_file.is_file():
        raise SpecError([Problem(rel, None, "", "lab.yaml is missing", "create it")])
    files: dict[str, str] = {}
    problems: list[Problem] = []
    files_dir = directory / "files"
    if files_dir.is_dir():
        for path in sorted(files_dir.iterdir()):
            if not path.is_file():
                continue
            try:
                files[path.name] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                problems.append(
                    Problem(_relative(path, base), None, "", "not UTF-8 text", "save it as UTF-8")
                )
                continue
            problems += _manifest_problems(path.name, files[path.name], _relative(path, base))
    try:
        text = spec_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError([Problem(rel, None, "", "not UTF-8 text", "save it as UTF-8")]) from None
    try:
        lab = lab_parse(text, slug=slug, file=rel, files=files)
    except SpecError as exc:
        raise SpecError([*exc.problems, *problems]) from None
    if problems:
        raise SpecError(problems)
    return lab


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Catalog:
    labs: dict[str, Lab] = field(default_factory=dict)

    def lab(self, slug: str) -> Lab:
        return self.labs[slug]

    def ordered(self) -> list[Lab]:
        return sorted(self.labs.values(), key=lambda lab: (lab.order, lab.slug))

    def exercise_ids(self) -> list[str]:
        return [f"{lab.slug}/{e.id}" for lab in self.ordered() for e in lab.exercises]


def catalog_load(root: Path | None = None) -> Catalog:
    """Every lab under root (default labs/catalog); SpecError lists every problem found."""
    root = root or CATALOG_DIR
    labs: dict[str, Lab] = {}
    problems: list[Problem] = []
    if not root.is_dir():
        raise SpecError([Problem(str(root), None, "", "the catalog folder is missing", "")])
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if directory.name.startswith("_") or directory.name == "__pycache__":
            continue
        try:
            labs[directory.name] = lab_load(directory, root=root)
        except SpecError as exc:
            problems += exc.problems
    orders: dict[int, str] = {}
    for lab in sorted(labs.values(), key=lambda lab: lab.slug):
        if lab.order in orders:
            problems.append(
                Problem(
                    f"{root.name}/{lab.slug}/lab.yaml",
                    None,
                    "order",
                    f"order {lab.order} is also used by {orders[lab.order]}",
                    "give each lab its own order",
                )
            )
        orders[lab.order] = lab.slug
    if problems:
        raise SpecError(problems)
    return Catalog(labs)
