"""Problems no single field's validator can see, looked for once the models have validated:
steps naming files the lab's files/ folder lacks, commands that do not parse or were cut in two
by a comma, duplicate check and near-miss ids, near misses expecting checks that do not exist,
and manifests in files/ that are not valid YAML, lack apiVersion/kind/metadata, or pin a
namespace."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping

import yaml

from labs.messages import Msg
from labs.messages import gettext_noop as _
from labs.spec.problems import Path_, Problem
from labs.spec.schema import Exercise, Steps
from tutorials.yamlpos import error_line

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
                Msg.of(_("not valid YAML: {problem}"), problem=str(getattr(exc, "problem", exc))),
                Msg.of(_("fix the indentation")),
            )
        ]
    problems = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            problems.append(
                Problem(rel, None, f"document {index + 1}", Msg.of(_("not a mapping")), "")
            )
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
                    Msg.of(_("missing {fields}"), fields=", ".join(missing)),
                    Msg.of(_("every manifest needs apiVersion, kind and metadata.name")),
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
                    Msg.of(_("a solution manifest must not pin a namespace")),
                    Msg.of(
                        _("remove metadata.namespace so it lands in the learner's own namespace")
                    ),
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
    *,
    scenario: bool = False,
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
                    Msg.of(_("{name} is not in the lab's files/ folder"), name=repr(name)),
                    Msg.of(_("add files/{name} or fix the name"), name=name),
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
                    Msg.of(_("not a valid shell command ({error})"), error=str(exc)),
                    Msg.of(_("close the quote")),
                )
            )
            continue
        if tokens and all("=" in token and not token.startswith("-") for token in tokens):
            problems.append(
                Problem(
                    rel,
                    lines.get((*path, "commands", index)) or line,
                    f"{where}.commands[{index}]",
                    Msg.of(
                        _(
                            "{command} only sets shell variables; it looks like the rest of a "
                            "command that a comma split in two"
                        ),
                        command=repr(command),
                    ),
                    Msg.of(
                        _(
                            "a comma inside [a, b] separates YAML list items: write the commands "
                            "as a block list, one `- command` per line"
                        )
                    ),
                )
            )
        # An imported scenario's steps write files and then use them (`cat > pod.yaml <<EOF`,
        # then `kubectl apply -f pod.yaml`): a file name there is not a missing lab file.
        for token in [] if scenario else tokens:
            token = token.split("=", 1)[-1]
            if _FILE_TOKEN.match(token) and token not in steps.files:
                problems.append(
                    Problem(
                        rel,
                        lines.get((*path, "commands", index)) or line,
                        f"{where}.commands[{index}]",
                        Msg.of(_("uses {file}, which is not listed in `files`"), file=repr(token)),
                        Msg.of(
                            _("add {file} to `files:` (and to the lab's files/ folder)"), file=token
                        ),
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
                    Msg.of(_("check id {id} is used twice"), id=repr(check_id)),
                    Msg.of(_("give every check its own id")),
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
                    Msg.of(_("near miss id {id} is used twice"), id=repr(miss.id)),
                    Msg.of(_("give each near miss its own id")),
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
                        Msg.of(
                            _(
                                "near miss {miss} expects check {check} to fail, but there is no "
                                "such check"
                            ),
                            miss=repr(miss.id),
                            check=repr(check_id),
                        ),
                        Msg.of(
                            _("did you mean {guess}? use one of {ids}"),
                            guess=repr(guess[0]),
                            ids=", ".join(ids),
                        )
                        if guess
                        else Msg.of(_("use one of {ids}"), ids=", ".join(ids)),
                    )
                )
    return problems
