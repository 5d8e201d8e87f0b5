"""Reading learners' objects, which may be odd in any way: metadata, labels and fields fetched
defensively from plain mappings, values compared the way YAML authors mean them (``"1"`` equals
``1``, quantities by value), and short renderings of names and values for messages; nothing in
here knows about checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from labs.checks.inputs import Obj
from labs.kubevalues import QuantityError, quantity_parse
from labs.messages import Msg, verbatim
from labs.messages import gettext_noop as _


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", "?"))


def _labels(obj: Obj) -> Mapping[str, str]:
    labels = _meta(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _annotations(obj: Obj) -> Mapping[str, str]:
    found = _meta(obj).get("annotations")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _live(objects: Iterable[Obj]) -> list[Obj]:
    # Objects being deleted are on their way out; learners see them vanish a moment later.
    return [o for o in objects if isinstance(o, Mapping) and not _meta(o).get("deletionTimestamp")]


def _ref(kind: str, obj: Obj) -> dict[str, Any]:
    meta = _meta(obj)
    return {"kind": kind, "name": meta.get("name"), "resourceVersion": meta.get("resourceVersion")}


def _names(objects: Iterable[Obj], limit: int = 6) -> Msg:
    names = sorted(_name(o) for o in objects)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        return Msg.of(_("{names} and {count} more"), names=shown, count=len(names) - limit)
    return verbatim(shown)


def _show(values: Sequence[Any]) -> Msg:
    if not values:
        return Msg(_("nothing"))
    text = ", ".join(repr(v) if isinstance(v, str) else _compact(v) for v in values[:5])
    return verbatim(text[:300])


def _compact(value: Any) -> str:
    text = str(value)
    return text if len(text) < 120 else text[:117] + "..."


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float | str) and isinstance(right, int | float | str):
        return left == right or str(left) == str(right)
    return bool(left == right)


def _subset(value: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(value, Mapping) and all(
            k in value and _subset(value[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(value, list) and all(
            any(_subset(item, want) for item in value) for want in expected
        )
    return _same(value, expected)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return quantity_parse(value)
    except QuantityError:
        return None


def _scope(kind: str, selector: str) -> Msg:
    return Msg.of(_("{kind}s with the labels {selector}"), kind=kind, selector=selector)
