"""A Killercoda scenario uploaded as a zip, into an authored lab's content (pure): the archive
is read by labs.killercoda.source (no path may leave it, no link, sizes counted as read), the
scenario converted by labs.killercoda.convert, and the result held to the studio's own limits
like any draft."""

from __future__ import annotations

import io
import zipfile

from labs.killercoda.convert import Imported, ImportRefused, scenario_convert, slugify
from labs.killercoda.scenario import ScenarioError, scenario_read
from labs.killercoda.source import SourceError, Tree, tree_from_uploads, tree_from_zip
from studio.content import SLUG_MAX


class ScenarioImportError(ValueError):
    pass


def is_scenario_zip(data: bytes) -> bool:
    """A zip with an index.json and no lab.yaml: Killercoda's layout, not the catalog's."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n.rsplit("/", 1)[-1] for n in archive.namelist()]
    except zipfile.BadZipFile:
        return False
    return "index.json" in names and "lab.yaml" not in names


def scenario_zip_convert(data: bytes, *, slug: str = "") -> Imported:
    try:
        tree = tree_from_zip(data)
    except SourceError as exc:
        raise ScenarioImportError(str(exc)) from None
    return _converted(tree, slug=slug, source="an uploaded zip")


def scenario_folder_convert(uploads: list[tuple[str, bytes]], *, slug: str = "") -> Imported:
    """A scenario's folder as a browser uploads it: each file with its path in the folder."""
    try:
        tree = tree_from_uploads(uploads)
    except SourceError as exc:
        raise ScenarioImportError(str(exc)) from None
    return _converted(tree, slug=slug, source="an uploaded folder")


def _converted(tree: Tree, *, slug: str, source: str) -> Imported:
    try:
        folders = tree.scenario_folders()
        if len(folders) != 1:
            raise ScenarioImportError(
                f"it holds {len(folders)} scenarios (index.json files); upload one at a time"
            )
        scenario = scenario_read(tree, folders[0])
        name = slug or slugify(scenario.title, SLUG_MAX)
        return scenario_convert(tree, scenario, slug=name[:SLUG_MAX].rstrip("-"), source=source)
    except (ScenarioError, ImportRefused) as exc:
        raise ScenarioImportError(str(exc)) from None
