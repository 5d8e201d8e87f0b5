"""Reading labs into validated specs: ``lab_parse`` (one lab.yaml's text), ``lab_load`` (a lab
folder with its files/) and ``catalog_load`` (every lab under labs/catalog, as a ``Catalog``),
each collecting every problem it finds into one ``SpecError`` rather than stopping at the first,
so an author fixes a lab in one pass."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from labs.messages import Msg
from labs.messages import gettext_noop as _
from labs.spec.crosschecks import _manifest_problems, _reference_problems, _steps_problems
from labs.spec.fields import SLUG_PATTERN
from labs.spec.positions import _node_positions
from labs.spec.problems import Path_, Problem, SpecError, _problem_from_error
from labs.spec.schema import Lab
from tutorials.yamlpos import error_line

# labs/catalog, next to this package (labs/spec/loading.py -> labs/catalog).
CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
MAX_SPEC_BYTES = 512 * 1024
_NOT_UTF8 = Msg.of(_("not UTF-8 text"))
_SAVE_UTF8 = Msg.of(_("save it as UTF-8"))


def _too_deep(file: str) -> Problem:
    return Problem(file, None, "", Msg.of(_("nested too deeply")), Msg.of(_("flatten it")))


def lab_parse(text: str, *, slug: str, file: str, files: Mapping[str, str] | None = None) -> Lab:
    """Validate one lab.yaml's text; ``files`` are the contents of its files/ folder."""
    files = dict(files or {})
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(
            [
                Problem(
                    file,
                    None,
                    "",
                    Msg.of(_("larger than {n} bytes"), n=MAX_SPEC_BYTES),
                    Msg.of(_("split the lab")),
                )
            ]
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
                    Msg.of(
                        _("not valid YAML: {problem}"),
                        problem=str(getattr(exc, "problem", None) or exc),
                    ),
                    Msg.of(
                        _(
                            "check the indentation and quote values that contain ': ' or start "
                            "with a special character"
                        )
                    ),
                )
            ]
        ) from None
    except RecursionError:
        raise SpecError([_too_deep(file)]) from None
    if root is None:
        raise SpecError(
            [Problem(file, 1, "", Msg.of(_("the file is empty")), Msg.of(_("start with `title:`")))]
        )
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
                    Msg.of(
                        _("not valid YAML: {problem}"),
                        problem=str(getattr(exc, "problem", None) or exc),
                    ),
                    Msg.of(_("use plain mappings, lists, text and numbers")),
                )
            ]
        ) from None
    except (RecursionError, TypeError, ValueError, OverflowError) as exc:
        raise SpecError(
            [
                Problem(
                    file,
                    None,
                    "",
                    Msg.of(_("unreadable value ({error})"), error=exc.__class__.__name__),
                    Msg.of(_("simplify")),
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise SpecError(
            [
                Problem(
                    file,
                    lines.get(()),
                    "",
                    Msg.of(_("the top level is a {type}, not a mapping"), type=type(data).__name__),
                    Msg.of(_("start with `title:`, `chapter:`, `order:` and `exercises:`")),
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
                        Msg.of(_("`{field}` is not set in lab.yaml"), field=reserved),
                        Msg.of(
                            _("remove it: the folder name is the slug and files/ holds the files")
                        ),
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
        raise SpecError([_too_deep(file)]) from None
    problems: list[Problem] = []
    for e_index, exercise in enumerate(lab.exercises):
        base: Path_ = ("exercises", e_index)
        where = f"exercises[{e_index}]"
        problems += _reference_problems(exercise, where, file, lines, base)
        problems += _steps_problems(
            exercise.setup,
            f"{where}.setup",
            files,
            file,
            lines,
            (*base, "setup"),
            scenario=lab.scenario,
        )
        problems += _steps_problems(
            exercise.solution,
            f"{where}.solution",
            files,
            file,
            lines,
            (*base, "solution"),
            scenario=lab.scenario,
        )
        for m_index, miss in enumerate(exercise.near_misses):
            problems += _steps_problems(
                miss,
                f"{where}.near_misses[{m_index}]",
                files,
                file,
                lines,
                (*base, "near_misses", m_index),
                scenario=lab.scenario,
            )
    if problems:
        raise SpecError(problems)
    return lab


def lab_parse_with_files(
    text: str, *, slug: str, file: str, files: Mapping[str, str], files_dir: str
) -> Lab:
    """A lab's spec and its files' texts, each file checked too (what lab_load does for a
    folder; the studio validates a draft with it): every problem of both in one SpecError."""
    problems: list[Problem] = []
    for name in sorted(files):
        problems += _manifest_problems(name, files[name], f"{files_dir}/{name}")
    try:
        lab = lab_parse(text, slug=slug, file=file, files=files)
    except SpecError as exc:
        raise SpecError([*exc.problems, *problems]) from None
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
                    Msg.of(_("{slug} is not a valid lab slug"), slug=repr(slug)),
                    Msg.of(_("rename the folder with lowercase letters, digits and dashes")),
                )
            ]
        )
    if not spec_file.is_file():
        raise SpecError(
            [Problem(rel, None, "", Msg.of(_("lab.yaml is missing")), Msg.of(_("create it")))]
        )
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
                problems.append(Problem(_relative(path, base), None, "", _NOT_UTF8, _SAVE_UTF8))
    try:
        text = spec_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError([Problem(rel, None, "", _NOT_UTF8, _SAVE_UTF8)]) from None
    try:
        lab = lab_parse_with_files(
            text, slug=slug, file=rel, files=files, files_dir=_relative(files_dir, base)
        )
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
        raise SpecError(
            [Problem(str(root), None, "", Msg.of(_("the catalog folder is missing")), "")]
        )
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
                    Msg.of(
                        _("order {order} is also used by {other}"),
                        order=lab.order,
                        other=orders[lab.order],
                    ),
                    Msg.of(_("give each lab its own order")),
                )
            )
        orders[lab.order] = lab.slug
    if problems:
        raise SpecError(problems)
    return Catalog(labs)
