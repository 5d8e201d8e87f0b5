"""The studio through Django's test client: who may open it, the editor's saves and marks, hostile
drafts and zips refused without breaking anything, co-authors, publishing only after a green
test, versions given to a class, and every catalog lab round-tripped through a zip."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.roles import Role
from labs.library import lab_resolve
from labs.models import Attempt, AuthoredLab, LabVersion
from labs.spec import lab_load
from studio.archive import lab_unzip
from studio.models import LabTest, LabTestStatus
from studio.services import authored_lab_create, draft_save, lab_export
from studio.starters import STARTERS
from tests.fixtures.classes import client_for, person

pytestmark = pytest.mark.django_db

CATALOG = Path(__file__).resolve().parents[2] / "labs" / "catalog"


def draft_post(client: Client, slug: str, **body: Any) -> Any:
    return client.post(
        f"/labs/studio/{slug}/draft/", data=json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def author() -> Any:
    return person("author", role=Role.INSTRUCTOR)


@pytest.fixture
def lab(author: Any) -> AuthoredLab:
    return authored_lab_create(owner=author, slug="probes-practice", starter="pod")


def test_only_the_labs_authors_reach_it_everyone_else_meets_a_404(lab: AuthoredLab) -> None:
    colleague = person("colleague", role=Role.INSTRUCTOR)
    student = person("student")
    pages = [
        ("get", "/labs/studio/probes-practice/"),
        ("post", "/labs/studio/probes-practice/draft/"),
        ("post", "/labs/studio/probes-practice/test/"),
        ("post", "/labs/studio/probes-practice/publish/"),
        ("post", "/labs/studio/probes-practice/authors/"),
        ("get", "/labs/studio/probes-practice/export.zip"),
        ("get", "/labs/studio/probes-practice/try/"),
        ("get", "/labs/studio/probes-practice/tests/1/"),
    ]
    for who in (colleague, student):
        client = client_for(who)
        for method, url in pages:
            assert getattr(client, method)(url).status_code == 404, (who, url)
    # A student has no studio at all; anonymous visitors are sent to log in.
    assert client_for(student).get("/labs/studio/").status_code == 404
    assert Client().get("/labs/studio/").status_code == 302
    assert client_for(lab.owner).get("/labs/studio/probes-practice/").status_code == 200
    # Nor can another instructor's draft be graded or checked as theirs.
    assert client_for(colleague).post("/labs/probes-practice/web-pod/check/").status_code == 404


def test_a_mistake_is_marked_at_its_line_and_column_and_the_fix_clears_it(lab: AuthoredLab) -> None:
    client = client_for(lab.owner)
    spec = lab.draft_spec.replace("type: ready", "type: redy")
    answer = draft_post(client, lab.slug, spec=spec, files=lab.draft_files, base=lab.draft_digest)
    assert answer.status_code == 200
    state = answer.json()
    (mark,) = state["marks"]
    line = spec.splitlines()[mark["line"] - 1]
    assert line[mark["column"] - 1 :].startswith("type: redy")
    assert (
        "unknown check type 'redy'" in mark["sentence"]
        and "did you mean 'ready'" in mark["sentence"]
    )
    assert state["valid"] is False and state["preview"] is None
    lab.refresh_from_db()
    assert lab.draft_spec == spec and lab.valid_spec != spec  # kept, but not what is graded
    fixed = draft_post(client, lab.slug, spec=spec.replace("redy", "ready"),
                       files=lab.draft_files, base=state["digest"]).json()  # fmt: skip
    assert fixed["marks"] == [] and fixed["valid"] is True
    assert "Run a Pod named web" in fixed["preview"]["html"]["en"]
    assert "執行名為 web 的 Pod" in fixed["preview"]["html"]["zh-hant"]
    # Every hint and the solution are in the preview; no Check button.
    assert "dry-run=client" in fixed["preview"]["html"]["en"]
    assert "kubectl apply -f web-pod.yaml" in fixed["preview"]["html"]["en"]
    assert "labs-button--primary" not in fixed["preview"]["html"]["en"]


def test_the_markdown_editor_writes_the_instructions_into_the_spec(lab: AuthoredLab) -> None:
    client = client_for(lab.owner)
    text = "Run **web**.\n\n- one\n- two\n"
    state = draft_post(
        client, lab.slug, spec=lab.draft_spec, files=lab.draft_files, base=lab.draft_digest,
        instructions={"exercise": 0, "language": "zh-hant", "text": text},
    ).json()  # fmt: skip
    assert state["marks"] == []
    assert lab_resolve(slug=lab.slug, version=0).exercises[0].instructions["zh-hant"] == text
    assert "# " not in text and state["spec"].count("Run **web**.") == 1
    refused = draft_post(client, lab.slug, spec=state["spec"], files=lab.draft_files,
                         instructions={"exercise": 9, "language": "en", "text": "x"})  # fmt: skip
    assert refused.status_code == 400 and "not written" in refused.json()["error"]


def test_a_co_authors_save_is_never_overwritten_silently(lab: AuthoredLab) -> None:
    colleague = person("colleague", role=Role.INSTRUCTOR)
    owner = client_for(lab.owner)
    assert (
        owner.post(
            f"/labs/studio/{lab.slug}/authors/", {"username": colleague.username}
        ).status_code
        == 302
    )
    base = lab.draft_digest
    first = draft_post(client_for(colleague), lab.slug, spec=lab.draft_spec + "\n# theirs\n",
                       files=lab.draft_files, base=base)  # fmt: skip
    assert first.status_code == 200
    mine = draft_post(owner, lab.slug, spec=lab.draft_spec + "\n# mine\n", files=lab.draft_files,
                      base=base)  # fmt: skip
    assert mine.status_code == 409 and mine.json()["conflict"] is True
    lab.refresh_from_db()
    assert lab.draft_spec.endswith("# theirs\n")
    # A student cannot become an author; the owner cannot be removed.
    student = person("student")
    owner.post(f"/labs/studio/{lab.slug}/authors/", {"username": student.username})
    owner.post(f"/labs/studio/{lab.slug}/authors/", {"remove": str(lab.owner_id)})
    assert set(lab.authors.values_list("pk", flat=True)) == {lab.owner_id, colleague.pk}


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("x" * (300 * 1024), "KiB"),
        # A billion laughs: each anchor twice the one before, 2**40 values if expanded.
        ("a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 40)),
         "expands to more than"),
        ("title: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "not a mapping"),
        ("title: {en: x}\ntitle: {en: y}\n", "duplicate key"),
    ],
)  # fmt: skip
def test_hostile_or_broken_specs_get_a_sentence_and_break_nothing(
    lab: AuthoredLab, spec: str, said: str
) -> None:
    before = (lab.valid_spec, lab.valid_digest)
    answer = draft_post(client_for(lab.owner), lab.slug, spec=spec, files={})
    assert answer.status_code == 200
    assert any(said in m["sentence"] for m in answer.json()["marks"]), answer.json()["marks"]
    lab.refresh_from_db()
    assert (lab.valid_spec, lab.valid_digest) == before
    # The page still opens and the valid draft still resolves.
    assert client_for(lab.owner).get(f"/labs/studio/{lab.slug}/").status_code == 200
    assert lab_resolve(slug=lab.slug, version=0).exercises[0].id == "web-pod"


def test_a_draft_over_the_limits_is_shown_and_never_stored(lab: AuthoredLab) -> None:
    files = {f"f{i}.yaml": "a: 1\n" for i in range(60)}
    answer = draft_post(client_for(lab.owner), lab.slug, spec=lab.draft_spec, files=files).json()
    assert answer["kept"] is False and any("at most 50" in m["sentence"] for m in answer["marks"])
    lab.refresh_from_db()
    assert len(lab.draft_files) == 1


def test_a_step_reaching_another_namespace_is_refused_at_its_line(lab: AuthoredLab) -> None:
    spec = lab.draft_spec.replace("kubectl apply -f web-pod.yaml",
                                  "kubectl apply -f web-pod.yaml -n kube-system")  # fmt: skip
    marks = draft_post(client_for(lab.owner), lab.slug, spec=spec, files=lab.draft_files).json()[
        "marks"
    ]
    (mark,) = marks
    assert "reaches outside the learner's namespace" in mark["sentence"]
    assert "-n kube-system" in spec.splitlines()[mark["line"] - 1]


def test_publishing_needs_a_green_test_of_exactly_that_content(lab: AuthoredLab) -> None:
    client = client_for(lab.owner)
    assert client.post(f"/labs/studio/{lab.slug}/publish/").status_code == 302
    assert not LabVersion.objects.filter(lab=lab).exists()
    # A passed test of other content (an older draft) does not count.
    LabTest.objects.create(lab=lab, digest="0" * 64, spec="", status=LabTestStatus.PASSED)
    client.post(f"/labs/studio/{lab.slug}/publish/")
    assert not LabVersion.objects.filter(lab=lab).exists()
    # Neither does an inconclusive one of this content.
    LabTest.objects.create(lab=lab, digest=lab.draft_digest, spec=lab.draft_spec,
                           status=LabTestStatus.INCONCLUSIVE)  # fmt: skip
    client.post(f"/labs/studio/{lab.slug}/publish/")
    assert not LabVersion.objects.filter(lab=lab).exists()
    LabTest.objects.create(lab=lab, digest=lab.draft_digest, spec=lab.draft_spec,
                           status=LabTestStatus.PASSED)  # fmt: skip
    client.post(f"/labs/studio/{lab.slug}/publish/")
    (version,) = LabVersion.objects.filter(lab=lab)
    assert (version.number, version.chapter, version.digest) == (1, "pods", lab.draft_digest)
    # The same content twice is not a new version.
    client.post(f"/labs/studio/{lab.slug}/publish/")
    assert LabVersion.objects.filter(lab=lab).count() == 1


def test_an_invalid_draft_cannot_be_tested(lab: AuthoredLab) -> None:
    draft_save(lab=lab, by=lab.owner, spec="title: [", files={}, base_digest=None)
    answer = client_for(lab.owner).post(f"/labs/studio/{lab.slug}/test/")
    assert answer.status_code == 409 and "Fix the problems" in answer.json()["error"]
    assert not LabTest.objects.filter(lab=lab).exists()


def test_names_taken_by_the_course_or_another_lab_are_refused(lab: AuthoredLab) -> None:
    client = client_for(lab.owner)
    refusals = {
        "pods": "is a lab of the course already",
        "studio": "is a lab of the course already",
        "Bad Name": "cannot be used",
        "probes-practice": "There is a lab named",
        "": "cannot be used",
    }
    for slug, said in refusals.items():
        page = client.post(
            "/labs/studio/new/", {"slug": slug, "source": "starter:pod"}, follow=True
        )
        assert said in page.content.decode(), slug
    assert list(AuthoredLab.objects.values_list("slug", flat=True)) == ["probes-practice"]
    # A student cannot create one even by posting the form.
    client_for(person("student")).post(
        "/labs/studio/new/", {"slug": "mine", "source": "starter:job"}
    )
    assert not AuthoredLab.objects.filter(slug="mine").exists()


@pytest.mark.parametrize("starter", sorted(STARTERS))
def test_every_starter_validates_from_the_first_keystroke(author: Any, starter: str) -> None:
    client = client_for(author)
    client.post("/labs/studio/new/", {"slug": f"my-{starter}", "source": f"starter:{starter}"})
    lab = AuthoredLab.objects.get(slug=f"my-{starter}")
    assert lab.valid_digest == lab.draft_digest != ""
    state = draft_post(client, lab.slug, spec=lab.draft_spec, files=lab.draft_files).json()
    assert state["marks"] == [] and state["preview"] is not None


@pytest.mark.parametrize("slug", sorted(p.name for p in CATALOG.iterdir() if p.is_dir()))
def test_a_catalog_lab_copied_exported_and_loaded_is_the_same_lab(
    author: Any, slug: str, tmp_path: Path
) -> None:
    client = client_for(author)
    client.post("/labs/studio/new/", {"slug": f"{slug}-copy", "source": f"copy:{slug}"})
    copy = AuthoredLab.objects.get(slug=f"{slug}-copy")
    assert copy.valid_digest == copy.draft_digest  # it validates in the studio too
    response = client.get(f"/labs/studio/{copy.slug}/export.zip")
    assert response["Content-Type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path)
    exported = lab_load(tmp_path / copy.slug)
    original = lab_load(CATALOG / slug)
    assert exported.model_dump(exclude={"slug"}) == original.model_dump(exclude={"slug"})
    assert exported.files == original.files
    # And the zip imports back as the same content.
    back = client.post(
        "/labs/studio/import/",
        {"archive": io.BytesIO(response.content), "slug": f"{slug}-again"},
    )
    assert back.status_code == 302
    again = AuthoredLab.objects.get(slug=f"{slug}-again")
    assert (again.draft_spec, again.draft_files) == (copy.draft_spec, copy.draft_files)


def test_a_hostile_zip_upload_is_refused_with_a_sentence(author: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lab/lab.yaml", STARTERS["pod"].spec)
        archive.writestr("lab/../../../etc/cron.d/x", "* * * * * root sh")
    client = client_for(author)
    page = client.post(
        "/labs/studio/import/", {"archive": io.BytesIO(buffer.getvalue())}, follow=True
    )
    assert "points outside the lab&#x27;s folder" in page.content.decode()
    assert not AuthoredLab.objects.exists()


def test_export_of_a_version_is_that_versions_content(lab: AuthoredLab) -> None:
    LabTest.objects.create(lab=lab, digest=lab.draft_digest, spec="", status=LabTestStatus.PASSED)
    client_for(lab.owner).post(f"/labs/studio/{lab.slug}/publish/")
    draft_save(lab=lab, by=lab.owner, spec=lab.draft_spec + "\n# later\n", files=lab.draft_files,
               base_digest=None)  # fmt: skip
    name, data = lab_export(lab=lab, version=1)
    assert name == f"{lab.slug}-v1.zip"
    assert not lab_unzip(data).spec.endswith("# later\n")
    assert lab_unzip(lab_export(lab=lab)[1]).spec.endswith("# later\n")


def test_problems_are_said_in_the_authors_language(lab: AuthoredLab) -> None:
    client = client_for(lab.owner)
    spec = lab.draft_spec.replace("type: ready", "type: redy").replace("order: 50", "order: many")
    answer = client.post(
        f"/labs/studio/{lab.slug}/draft/",
        data=json.dumps({"spec": spec, "files": lab.draft_files}),
        content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hant",
    ).json()  # fmt: skip
    sentences = sorted(m["sentence"] for m in answer["marks"])
    unknown_type = "不認得的檢查類型 'redy' 修正：是不是要寫 'ready'"  # noqa: RUF001
    not_a_number = "order: 應該是整數（拿到的是 str）"  # noqa: RUF001
    assert any(unknown_type in s for s in sentences), sentences
    assert any(not_a_number in s for s in sentences), sentences
    # The same content in English says what `labs validate` prints.
    english = draft_post(client, lab.slug, spec=spec, files=lab.draft_files).json()["marks"]
    assert any(
        "unknown check type 'redy' Fix: did you mean 'ready'?" in m["sentence"] for m in english
    )


def test_trying_a_draft_shows_it_beside_a_terminal_and_checks_grade_the_draft(
    lab: AuthoredLab,
) -> None:
    client = client_for(lab.owner)
    page = client.get(f"/labs/studio/{lab.slug}/try/").content.decode()
    assert 'data-labs-exercise="probes-practice/web-pod"' in page
    assert "your draft" in page and 'id="terminal"' in page
    # The author's Check is of the draft (version 0); nobody else's is possible.
    answer = client.post(f"/labs/{lab.slug}/web-pod/check/")
    assert answer.status_code == 202
    assert Attempt.objects.get(user=lab.owner, lab=lab.slug).lab_version == 0
    # Imported content that never validated: trying it sends the author back to the editor.
    other = authored_lab_create(owner=lab.owner, slug="broken-one", content=("title: [", {}))
    assert other.valid_digest == ""
    assert client.get(f"/labs/studio/{other.slug}/try/").status_code == 302
