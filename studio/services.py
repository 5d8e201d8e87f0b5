"""Writes of the studio: new labs (from a starter, a copy of a catalog lab, or a zip), drafts
saved and checked as they are typed, co-authors, content tests, published versions.

Every function takes the lab its caller got from ``studio.selectors.lab_get_for_author`` (the
access check) and the user acting; what an author types is untrusted and is bounded and
validated here (``studio.content``) before it is parsed, kept or run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from accounts.roles import Role, user_has_role
from kubelab.events import user_event_send
from labs.killercoda.convert import Imported
from labs.killercoda.importing import outcome_lines
from labs.library import RESERVED_SLUGS, catalog_dir, catalog_get, lab_digest, spec_file
from labs.messages import Translate
from labs.models import AuthoredLab, LabVersion
from labs.spec import Lab, Problem, SpecError, lab_parse_with_files
from studio.archive import ArchiveError, lab_unzip, lab_zip
from studio.content import content_problems, reaching_problems, slug_problem
from studio.marks import Mark, problem_marks
from studio.models import LabTest, LabTestStatus
from studio.scenarios import (
    ScenarioImportError,
    is_scenario_zip,
    scenario_folder_convert,
    scenario_zip_convert,
)
from studio.selectors import lab_test_passed
from studio.starters import STARTERS
from studio.tasks import lab_test_task


class StudioError(ValueError):
    """A refusal, as a sentence in the author's language."""


class DraftConflict(StudioError):
    """Someone else saved the draft since this editor loaded it."""


@dataclass(frozen=True)
class Checked:
    """A draft's content, validated: its marks (empty when valid) and the parsed lab."""

    digest: str
    marks: list[Mark] = field(default_factory=list)
    lab: Lab | None = None
    # Content over the studio's limits is checked but never kept (draft_save).
    kept: bool = True

    @property
    def valid(self) -> bool:
        return self.lab is not None and not self.marks


def draft_check(
    *, slug: str, spec: str, files: Mapping[str, str], translate: Translate | None = None
) -> Checked:
    """Everything `labs validate` says about this content, plus the studio's own limits (size,
    names, commands that reach outside the learner's namespace), as editor marks, in the
    language of ``translate`` (the author's gettext; English without one)."""
    files = dict(files)
    digest = lab_digest(spec, files)
    problems: list[Problem] = content_problems(spec, files, slug=slug)
    lab = None
    if problems:
        marks = problem_marks(problems, slug=slug, spec="", files={}, translate=translate)
        return Checked(digest, marks, kept=False)
    try:
        lab = lab_parse_with_files(
            spec, slug=slug, file=spec_file(slug), files=files, files_dir=f"{slug}/files"
        )
    except SpecError as exc:
        problems = exc.problems
    else:
        problems = reaching_problems(lab, spec, slug=slug)
    marks = problem_marks(problems, slug=slug, spec=spec, files=files, translate=translate)
    return Checked(digest, marks, lab if not marks else None)


def _slug_free(slug: str) -> None:
    problem = slug_problem(slug)
    if problem is not None:
        raise StudioError(
            _("That name cannot be used: %(why)s.") % {"why": problem.render(gettext)}
        )
    if slug in RESERVED_SLUGS or slug in catalog_get().labs:
        raise StudioError(
            _("“%(slug)s” is a lab of the course already; choose another name.") % {"slug": slug}
        )
    if AuthoredLab.objects.filter(slug=slug).exists():
        raise StudioError(_("There is a lab named “%(slug)s” already.") % {"slug": slug})


def _instructor(user: Any) -> None:
    if not user_has_role(user=user, role=Role.INSTRUCTOR):
        raise StudioError(_("Only instructors write labs."))


def _catalog_content(slug: str) -> tuple[str, dict[str, str]]:
    folder = Path(catalog_dir()) / slug
    files = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((folder / "files").glob("*"))
        if path.is_file()
    }
    return (folder / "lab.yaml").read_text(encoding="utf-8"), files


def authored_lab_create(
    *,
    owner: Any,
    slug: str,
    starter: str = "",
    copy_of: str = "",
    content: tuple[str, Mapping[str, str]] | None = None,
) -> AuthoredLab:
    """A new lab, its owner its first author: from a starter (one per family of checks), a copy
    of a catalog lab, or given content (an imported zip). The draft is kept as given, even when
    it does not validate (an import can be fixed in the editor)."""
    _instructor(owner)
    slug = (slug or "").strip()
    _slug_free(slug)
    if content is not None:
        spec, files = content[0], dict(content[1])
    elif copy_of:
        if copy_of not in catalog_get().labs:
            raise StudioError(_("There is no lab “%(slug)s” in the catalog.") % {"slug": copy_of})
        spec, files = _catalog_content(copy_of)
    else:
        chosen = STARTERS.get(starter or "pod")
        if chosen is None:
            raise StudioError(_("There is no starter “%(key)s”.") % {"key": starter})
        spec, files = chosen.spec, dict(chosen.files)
    problems = content_problems(spec, files, slug=slug)
    if problems:
        raise StudioError("; ".join(p.render(gettext) for p in problems))
    try:
        with transaction.atomic():
            lab = AuthoredLab.objects.create(slug=slug, owner=owner)
            lab.authors.add(owner)
    except IntegrityError:
        raise StudioError(_("There is a lab named “%(slug)s” already.") % {"slug": slug}) from None
    draft_save(lab=lab, by=owner, spec=spec, files=files, base_digest=None)
    return lab


def draft_save(
    *,
    lab: AuthoredLab,
    by: Any,
    spec: str,
    files: Mapping[str, str],
    base_digest: str | None,
    translate: Translate | None = None,
) -> Checked:
    """Keep what the author typed (valid or not) and check it. ``base_digest`` is the draft the
    editor started from: if a co-author saved another one since, nothing is overwritten
    (DraftConflict). The valid content, which "try it as a learner" grades, moves only when the
    new content validates."""
    files = dict(files)
    checked = draft_check(slug=lab.slug, spec=spec, files=files, translate=translate)
    if not checked.kept:
        return checked  # over the limits: shown, never stored
    with transaction.atomic():
        row = AuthoredLab.objects.select_for_update().get(pk=lab.pk)
        if base_digest is not None and row.draft_digest and base_digest != row.draft_digest:
            raise DraftConflict(
                _(
                    "A co-author saved this draft after you opened it. Copy your changes, reload "
                    "the page, and apply them again."
                )
            )
        row.draft_spec, row.draft_files, row.draft_digest = spec, files, checked.digest
        fields = ["draft_spec", "draft_files", "draft_digest", "updated_at"]
        if checked.valid:
            row.valid_spec, row.valid_files, row.valid_digest = spec, files, checked.digest
            fields += ["valid_spec", "valid_files", "valid_digest"]
        row.save(update_fields=fields)
    for name in fields:
        setattr(lab, name, getattr(row, name))
    return checked


def coauthor_add(*, lab: AuthoredLab, by: Any, username: str) -> Any:
    """Another instructor writes this lab too (sees the draft, tests, publishes)."""
    user = get_user_model().objects.filter(username=(username or "").strip()).first()
    if user is None or not user_has_role(user=user, role=Role.INSTRUCTOR):
        raise StudioError(
            _("%(name)s is not an instructor here; only instructors write labs.")
            % {"name": username}
        )
    lab.authors.add(user)
    return user


def coauthor_remove(*, lab: AuthoredLab, by: Any, user_id: int) -> None:
    if int(user_id) == lab.owner_id:
        raise StudioError(_("The lab's owner stays one of its authors."))
    lab.authors.remove(user_id)


def lab_test_request(*, lab: AuthoredLab, by: Any) -> LabTest:
    """Test the saved draft on the cluster (a Celery task). The draft must validate; a test of
    the same content that is still going is returned instead of starting another."""
    lab.refresh_from_db()
    if not lab.draft_digest or lab.draft_digest != lab.valid_digest:
        raise StudioError(_("Fix the problems marked in the editor first: only a lab that "
                            "validates can be tested."))  # fmt: skip
    with transaction.atomic():
        AuthoredLab.objects.select_for_update().filter(pk=lab.pk).first()
        going = LabTest.objects.filter(
            lab=lab,
            digest=lab.draft_digest,
            status__in=[LabTestStatus.QUEUED, LabTestStatus.RUNNING, LabTestStatus.INCONCLUSIVE],
        ).first()
        if going is not None:
            return going
        test = LabTest.objects.create(
            lab=lab,
            digest=lab.draft_digest,
            spec=lab.draft_spec,
            files=lab.draft_files,
            requested_by=by,
        )
        transaction.on_commit(lambda: lab_test_task.delay(test.pk))
    return test


def lab_test_gave_up(*, test_id: int) -> None:
    """The cluster never answered through the retries: shown as inconclusive, never green."""
    from studio.testing import _tell_authors

    LabTest.objects.filter(pk=test_id).update(
        status=LabTestStatus.GAVE_UP, finished_at=timezone.now()
    )
    test = LabTest.objects.select_related("lab").get(pk=test_id)
    _tell_authors(test)


def version_publish(*, lab: AuthoredLab, by: Any) -> LabVersion:
    """Version N+1 from the saved draft, if a test of exactly that content passed."""
    lab.refresh_from_db()
    if not lab.draft_digest or lab.draft_digest != lab.valid_digest:
        raise StudioError(_("Fix the problems marked in the editor first."))
    test = lab_test_passed(lab=lab, digest=lab.draft_digest)
    if test is None:
        raise StudioError(
            _("Run “Test this lab” on this exact content first; a version is published only "
              "after a green test.")
        )  # fmt: skip
    parsed = lab_parse_with_files(
        lab.draft_spec,
        slug=lab.slug,
        file=spec_file(lab.slug),
        files=lab.draft_files,
        files_dir=f"{lab.slug}/files",
    )
    with transaction.atomic():
        AuthoredLab.objects.select_for_update().filter(pk=lab.pk).first()
        latest = LabVersion.objects.filter(lab=lab).aggregate(n=Max("number"))["n"] or 0
        if LabVersion.objects.filter(lab=lab, digest=lab.draft_digest, number=latest).exists():
            raise StudioError(_("Version %(n)s has exactly this content already.") % {"n": latest})
        version = LabVersion.objects.create(
            lab=lab,
            number=latest + 1,
            spec=lab.draft_spec,
            files=lab.draft_files,
            digest=lab.draft_digest,
            chapter=parsed.chapter,
            title=dict(parsed.title),
            published_by=by,
            tested_by=test.pk,
        )
        for author_id in lab.authors.values_list("pk", flat=True):
            user_event_send(
                user_id=int(author_id),
                event={"type": "studio.published", "lab": lab.slug, "version": version.number},
            )
    return version


def lab_import(*, owner: Any, data: bytes, slug: str = "") -> tuple[AuthoredLab, list[str]]:
    """A new lab from a zip: in the catalog's layout (the folder's name is the slug unless
    another is given), or a Killercoda scenario (``index.json``), converted. The lines say what
    became of a scenario's steps."""
    if is_scenario_zip(data):
        return _scenario_import(owner, lambda: scenario_zip_convert(data, slug=slug))
    try:
        unpacked = lab_unzip(data)
    except ArchiveError as exc:
        raise StudioError(_("The zip was not imported: %(why)s.") % {"why": str(exc)}) from None
    lab = authored_lab_create(
        owner=owner,
        slug=slug or unpacked.folder,
        content=(unpacked.spec, unpacked.files),
    )
    return lab, []


def scenario_folder_import(
    *, owner: Any, uploads: list[tuple[str, bytes]], slug: str = ""
) -> tuple[AuthoredLab, list[str]]:
    """A new lab from a Killercoda scenario's folder, uploaded file by file with its paths."""
    return _scenario_import(owner, lambda: scenario_folder_convert(uploads, slug=slug))


def _scenario_import(owner: Any, convert: Callable[[], Imported]) -> tuple[AuthoredLab, list[str]]:
    _instructor(owner)
    try:
        imported = convert()
    except ScenarioImportError as exc:
        raise StudioError(
            _("The scenario was not imported: %(why)s.") % {"why": str(exc)}
        ) from None
    lab = authored_lab_create(
        owner=owner, slug=imported.slug, content=(imported.spec, imported.files)
    )
    return lab, outcome_lines(imported)


def lab_export(*, lab: AuthoredLab, version: int | None = None) -> tuple[str, bytes]:
    """(file name, zip) of the draft or of a published version, in the catalog's layout."""
    if version is None:
        spec, files, name = lab.draft_spec, lab.draft_files, f"{lab.slug}-draft.zip"
    else:
        found = LabVersion.objects.filter(lab=lab, number=version).first()
        if found is None:
            raise StudioError(_("There is no version %(n)s.") % {"n": version})
        spec, files, name = found.spec, found.files, f"{lab.slug}-v{version}.zip"
    return name, lab_zip(slug=lab.slug, spec=spec, files=files)
