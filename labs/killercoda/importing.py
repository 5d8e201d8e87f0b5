"""Scenarios on disk into lab folders on disk (``manage.py labs import-killercoda``): each lab
is validated before anything is written, and an existing folder is never overwritten."""

from __future__ import annotations

import re
from pathlib import Path

from labs.killercoda.convert import Imported, ImportRefused, scenario_convert
from labs.killercoda.scenario import ScenarioError, scenario_read
from labs.killercoda.source import SourceError, Tree, tree_from_folder
from labs.spec import Lab, SpecError
from labs.spec.loading import lab_parse_with_files


class ImportProblem(ValueError):
    pass


def imported_lab(imported: Imported) -> Lab:
    """The imported lab, validated as `labs validate` would; SpecError when it does not (an
    importer's bug or an odd scenario)."""
    return lab_parse_with_files(
        imported.spec,
        slug=imported.slug,
        file=f"{imported.slug}/lab.yaml",
        files=imported.files,
        files_dir=f"{imported.slug}/files",
    )


def outcome_lines(imported: Imported) -> list[str]:
    lines = []
    for step in imported.steps:
        if step.exercise_id:
            solved = {
                "exec": "",
                "solution section": " (its solution: the code of its Solution section)",
            }.get(step.solution_from, " (no commands to run: write its solution)")
            lines.append(f"  step {step.number}: exercise {step.exercise_id}{solved}")
        else:
            lines.append(f"  step {step.number}: to read, because it {'; it '.join(step.why)}")
    lines += [f"  note: {note}" for note in imported.notes]
    return lines


def _orders_used(catalog: Path) -> set[int]:
    """The `order:` of every lab already in the catalog folder (a catalog orders each once)."""
    used = set()
    for spec in catalog.glob("*/lab.yaml"):
        found = re.search(r"^order:\s*(\d+)", spec.read_text(encoding="utf-8"), re.MULTILINE)
        if found:
            used.add(int(found.group(1)))
    return used


def scenarios_import(
    source: Path,
    *,
    out: Path,
    slug: str = "",
    chapter: str = "",
    licence: str = "",
    source_name: str = "",
) -> list[str]:
    """Write one lab folder per scenario under ``source``; the lines say what became of each."""
    try:
        tree: Tree = tree_from_folder(source)
    except (SourceError, OSError) as exc:
        raise ImportProblem(f"{source}: {exc}") from None
    folders = tree.scenario_folders()
    if not folders:
        raise ImportProblem(f"{source}: no index.json here; give a Killercoda scenario's folder")
    if slug and len(folders) > 1:
        raise ImportProblem(f"--slug names one lab, and {source} holds {len(folders)} scenarios")
    lines: list[str] = []
    failures = 0
    used = _orders_used(out)
    for folder in folders:
        order = next((n for n in range(50, 100) if n not in used), None) or next(
            (n for n in range(1, 50) if n not in used), None
        )
        if order is None:
            raise ImportProblem(f"{out} holds 99 labs, as many as a catalog may order")
        where = f"{source}/{folder}".rstrip("/")
        try:
            scenario = scenario_read(tree, folder)
            imported = scenario_convert(
                tree,
                scenario,
                slug=slug,
                chapter=chapter,
                licence=licence,
                source=source_name or source.resolve().name,
                order=order,
            )
            imported_lab(imported)
        except (ScenarioError, ImportRefused) as exc:
            failures += 1
            lines.append(f"{where}: not imported: {exc}")
            continue
        except SpecError as exc:
            failures += 1
            lines.append(f"{where}: not imported, the lab would not validate:\n{exc}")
            continue
        target = out / imported.slug
        if target.exists():
            failures += 1
            lines.append(f"{where}: not imported: {target} exists; give another --slug")
            continue
        used.add(order)
        (target / "files").mkdir(parents=True)
        (target / "lab.yaml").write_text(imported.spec, encoding="utf-8")
        for name, text in imported.files.items():
            (target / "files" / name).write_text(text, encoding="utf-8")
        lines.append(f"{where}: {target} ({imported.exercises} exercise(s))")
        lines += outcome_lines(imported)
    if failures == len(folders):
        raise ImportProblem("\n".join(lines))
    return lines
