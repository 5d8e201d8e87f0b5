"""The value types lab.yaml's fields are built from, and nothing else: text in each language,
slugs, Kubernetes object and file names, the kinds a check may look at, selectors and JSON paths
(parsed when the lab loads, kept as text), and ``_Model``, the strict frozen base of every
model; each type words its own error with a fix after ". Fix: ", and the models built from them
are in ``labs.spec.schema``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from labs.jsonpath import JsonPathError, jsonpath_compile
from labs.kubevalues import SelectorError, selector_parse
from labs.messages import Msg, verbatim
from labs.messages import gettext_noop as _


class SpecValueError(ValueError):
    """A validator's refusal as messages (what is wrong, how to fix it), so it can be said in
    the author's language; pydantic keeps it in the error's context (labs.spec.problems)."""

    def __init__(self, message: Msg, fix: Msg | None = None) -> None:
        self.message = message
        self.fix: Msg | str = fix or ""
        super().__init__(f"{message}. Fix: {fix}" if fix else str(message))


LANGUAGES = ("en", "zh-hant")

# Kinds a check may look at; the snapshot fetches exactly these through the gateway. A subset of
# the kinds the gateway may read (k8s.kinds.GRADED), written out because it is a type pydantic
# validates with; tests/k8s/test_kinds.py holds the two together.
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
        raise SpecValueError(
            Msg.of(_("expected text or a mapping of languages to text")),
            Msg.of(_("write the English text, or `en: ...` and `zh-hant: ...`")),
        )
    unknown = [key for key in value if key not in LANGUAGES]
    if unknown:
        raise SpecValueError(
            Msg.of(_("unknown language {language}"), language=repr(unknown[0])),
            Msg.of(_("use only {languages}"), languages=", ".join(LANGUAGES)),
        )
    if "en" not in value:
        raise SpecValueError(Msg.of(_("English text is missing")), Msg.of(_("add `en: ...`")))
    for language, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise SpecValueError(
                Msg.of(_("the {language} text is empty"), language=language),
                Msg.of(_("write the text or drop it")),
            )
    return {str(k): str(v) for k, v in value.items()}


Text = Annotated[dict[str, str], BeforeValidator(_text)]


def _parsed_text(
    what: Msg, parse: Callable[[str], object], error: type[ValueError], fix: Msg
) -> Callable[[Any], str]:
    """A validator for text in a small language (selectors, paths): parsed at load, kept as text;
    a parse error becomes the parser's own message plus how to fix it."""

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise SpecValueError(what, Msg.of(_("quote it")))
        try:
            parse(value)
        except error as exc:
            raise SpecValueError(verbatim(str(exc)), fix) from None
        return value

    return validate


Selector = Annotated[
    str,
    BeforeValidator(
        _parsed_text(
            Msg.of(_("a selector is text like `app=alpaca,env=prod`")),
            selector_parse,
            SelectorError,
            Msg.of(_("write it like app=alpaca,ver in (1,2),!canary")),
        )
    ),
]
JsonPathText = Annotated[
    str,
    BeforeValidator(
        _parsed_text(
            Msg.of(_("a path is text like `.spec.containers[0].image`")),
            jsonpath_compile,
            JsonPathError,
            Msg.of(_("use .field, ['key'], [0], [*] and [?(@.name==\"x\")] only")),
        )
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
