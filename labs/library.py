"""The lab library: every lab a learner can be graded on, wherever it lives.

- The catalog's files (labs/catalog): version 0, the same for everyone.
- Labs instructors write in the studio (``AuthoredLab``): its authors work on the draft
  (version 0: the last draft content that validated), everyone else on a published
  ``LabVersion`` (1, 2, ...) that one of their classes chose. labs knows nothing of classes, so
  classes registers a *version chooser* (``version_chooser_register``) that answers "which
  version of this lab does this learner's class use".

A version is immutable, so its parsed ``Lab`` is kept per process by content digest; a draft is
parsed again only when its content changes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubelab.env import env_str
from labs.models import AuthoredLab, LabVersion
from labs.spec import CATALOG_DIR, Catalog, Lab, SpecError, catalog_load, lab_parse

DRAFT = 0
# Slugs an authored lab may not take: the catalog's, and the studio's own URL prefix.
RESERVED_SLUGS = frozenset({"studio", "attempts"})

VersionChooser = Callable[[int, str], int | None]
_choosers: list[VersionChooser] = []


class LabNotFound(LookupError):
    pass


def catalog_dir() -> Path:
    # Read at call time so a test worker can grade a test catalog (KUBELAB_LABS_CATALOG).
    return Path(env_str("KUBELAB_LABS_CATALOG", str(CATALOG_DIR)))


@lru_cache(maxsize=4)
def _catalog(directory: str) -> Catalog:
    return catalog_load(Path(directory))


def catalog_get() -> Catalog:
    """The validated catalog, loaded once per process (SpecError if a lab is broken)."""
    return _catalog(str(catalog_dir()))


def version_chooser_register(chooser: VersionChooser) -> None:
    """``chooser(user_id, slug)`` names the published version the learner uses, or None."""
    if chooser not in _choosers:
        _choosers.append(chooser)


def lab_digest(spec: str, files: Mapping[str, str]) -> str:
    """What identifies a lab's content: a test run, a version and a draft compare by it."""
    canonical = json.dumps({"spec": spec, "files": dict(sorted(files.items()))}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def spec_file(slug: str) -> str:
    """The file name problems name for an authored lab: its path in the catalog's layout."""
    return f"{slug}/lab.yaml"


_parsed: dict[tuple[str, str], Lab] = {}
_parsed_lock = threading.Lock()
PARSED_KEPT = 512


def lab_from_content(slug: str, spec: str, files: Mapping[str, str], digest: str = "") -> Lab:
    """Parse (once per content) an authored lab; SpecError when it does not validate."""
    key = (slug, digest or lab_digest(spec, files))
    with _parsed_lock:
        found = _parsed.get(key)
    if found is not None:
        return found
    lab = lab_parse(spec, slug=slug, file=spec_file(slug), files=dict(files))
    with _parsed_lock:
        if len(_parsed) >= PARSED_KEPT:
            _parsed.clear()
        _parsed[key] = lab
    return lab


def is_catalog_lab(slug: str) -> bool:
    return slug in catalog_get().labs


def lab_resolve(*, slug: str, version: int = DRAFT) -> Lab:
    """The lab a grading, a page or a class reads: the catalog's, an authored lab's draft
    (version 0) or one of its published versions. LabNotFound otherwise."""
    catalog = catalog_get()
    if slug in catalog.labs:
        return catalog.lab(slug)
    content: tuple[str, dict[str, str], str] | None
    if version == DRAFT:
        content = (
            AuthoredLab.objects.filter(slug=slug)
            .values_list("valid_spec", "valid_files", "valid_digest")
            .first()
        )
    else:
        content = (
            LabVersion.objects.filter(lab__slug=slug, number=version)
            .values_list("spec", "files", "digest")
            .first()
        )
    if not content or not content[0]:
        raise LabNotFound(f"{slug} v{version}")
    try:
        return lab_from_content(slug, content[0], content[1], content[2])
    except SpecError:
        # A stored version validated when it was written; a later change to the schema may
        # refuse it. Grading it then would be guessing.
        raise LabNotFound(f"{slug} v{version} no longer validates") from None


def lab_version_for(*, user: Any, slug: str) -> int | None:
    """Which version of the lab this user works on: 0 for a catalog lab and for an authored
    lab's own authors (its draft), the version their class chose, or None: not theirs to see."""
    if is_catalog_lab(slug):
        return DRAFT
    if not getattr(user, "is_authenticated", False):
        return None
    if AuthoredLab.objects.filter(slug=slug, authors=user).exists():
        return DRAFT
    chosen = [v for chooser in _choosers if (v := chooser(int(user.pk), slug)) is not None]
    return max(chosen) if chosen else None


def authored_labs_for_chapter(*, user: Any, chapter: str) -> list[tuple[str, int]]:
    """(slug, version) of the published authored labs this user's classes do in a chapter."""
    if not getattr(user, "is_authenticated", False):
        return []
    slugs = (
        LabVersion.objects.filter(chapter=chapter)
        .values_list("lab__slug", flat=True)
        .distinct()
        .order_by("lab__slug")
    )
    found = []
    for slug in slugs:
        chosen = [v for chooser in _choosers if (v := chooser(int(user.pk), slug)) is not None]
        if chosen:
            found.append((slug, max(chosen)))
    return found
