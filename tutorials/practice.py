"""What a learner practises for each heading of the study notes (issue 20).

``tutorials/practice.yaml`` maps every heading path of the notes (as ``coverage.yaml`` writes
them) to the exercises that grade it, or to ``{why: ...}``: one sentence on why the section
cannot be practised here. ``practice_problems`` lists what is wrong with the map; the catalog's
exercise ids and each chapter's linked exercises come in as plain data, so this module does not
depend on the labs app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

import yaml

from tutorials.coverage import TUTORIALS_DIR, NotesHeading

PRACTICE_FILE = TUTORIALS_DIR / "practice.yaml"
# A reason has to say something: "n/a" or a bare "simulated" tells a learner nothing.
MIN_REASON_LENGTH = 40


@dataclass(frozen=True)
class Practice:
    """The exercises that practise a heading, or why none can."""

    exercises: tuple[str, ...] = ()
    why: str = ""


def practice_load(path: Path = PRACTICE_FILE) -> dict[str, Practice]:
    """Read the map; ``ValueError`` names the entry that is malformed."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("practice"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'practice' mapping")
    result: dict[str, Practice] = {}
    for heading, value in data["practice"].items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            result[str(heading)] = Practice(exercises=tuple(value))
        elif isinstance(value, dict) and set(value) == {"why"} and isinstance(value["why"], str):
            result[str(heading)] = Practice(why=value["why"].strip())
        else:
            raise ValueError(
                f"{path}: '{heading}' must map to a list of lab/exercise ids or to {{why: ...}}"
            )
    return result


def practice_problems(
    headings: Sequence[NotesHeading],
    practice: Mapping[str, Practice],
    exercise_ids: Set[str],
    linked: Set[str],
) -> list[str]:
    """Human-readable problems; empty when every heading is practised or says why not.

    ``exercise_ids``: every ``lab/exercise`` of the catalog. ``linked``: the exercises some
    lesson links (front matter), so a learner can reach each one from a lesson.
    """
    problems: list[str] = []
    paths = {heading.path for heading in headings}
    for heading in headings:
        entry = practice.get(heading.path)
        if entry is None:
            problems.append(f"notes line {heading.line}: '{heading.path}' has no practice entry")
            continue
        if not entry.exercises and len(entry.why) < MIN_REASON_LENGTH:
            problems.append(f"'{heading.path}': the reason is too short to tell a learner why")
        for exercise in entry.exercises:
            if exercise not in exercise_ids:
                problems.append(f"'{heading.path}': no exercise {exercise} in the catalog")
            elif exercise not in linked:
                problems.append(f"'{heading.path}': {exercise} is not linked from any lesson")
    problems.extend(
        f"practice entry '{path}' does not match any heading of the notes"
        for path in practice
        if path not in paths
    )
    return problems
