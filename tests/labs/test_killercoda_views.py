"""The Killercoda import and "Set up this step" through Django's test client: who may reach
them, hostile uploads, and the rate limit. (The setup itself runs on the cluster in
test_killercoda_cluster.py, and the whole day in chromium in test_killercoda_e2e.py.)"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from accounts.roles import Role
from labs.models import AuthoredLab
from tests.fixtures.classes import client_for, person

pytestmark = pytest.mark.django_db

SHOP = Path(__file__).parent / "killercoda" / "scenarios" / "shop-basics"
STEP = "step-1-scale-the-web-deployment"


def shop_zip(**extra: bytes) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(SHOP.rglob("*")):
            if path.is_file():
                archive.writestr(f"shop/{path.relative_to(SHOP)}", path.read_bytes())
        for name, body in extra.items():
            archive.writestr(name, body)
    buffer.seek(0)
    return buffer


@pytest.fixture
def author() -> Any:
    return person("author", role=Role.INSTRUCTOR)


@pytest.fixture
def imported(author: Any) -> AuthoredLab:
    page = client_for(author).post(
        "/labs/studio/import/", {"archive": shop_zip(), "slug": "shop"}, follow=True
    )
    said = page.content.decode()
    assert "Imported from Killercoda" in said and "step 3: to read" in said, said
    return AuthoredLab.objects.get(slug="shop")


def test_a_scenario_zip_imports_as_a_lab_that_validates(imported: AuthoredLab) -> None:
    assert imported.valid_digest == imported.draft_digest
    assert "scenario: true" in imported.draft_spec
    assert set(imported.draft_files) >= {"step-1-verify.sh", "settings.yaml"}


def test_hostile_scenario_zips_are_refused_with_a_sentence(author: Any) -> None:
    client = client_for(author)
    climbing = shop_zip(**{"shop/../../etc/cron.d/x": b"* * * * * root sh"})
    page = client.post("/labs/studio/import/", {"archive": climbing}, follow=True)
    assert "points outside the scenario&#x27;s folder" in page.content.decode()

    buffer = shop_zip()
    with zipfile.ZipFile(buffer, "a") as archive:
        link = zipfile.ZipInfo("shop/step1/verify.sh.link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/shadow")
    buffer.seek(0)
    page = client.post("/labs/studio/import/", {"archive": buffer}, follow=True)
    assert "is a symbolic link" in page.content.decode()

    two = shop_zip(**{"other/index.json": b'{"title": "x"}'})
    page = client.post("/labs/studio/import/", {"archive": two}, follow=True)
    assert "holds 2 scenarios" in page.content.decode()
    assert not AuthoredLab.objects.exists()


def test_a_student_cannot_import_a_scenario() -> None:
    student = person("student")
    response = client_for(student).post("/labs/studio/import/", {"archive": shop_zip()})
    assert response.status_code in (403, 404)
    assert not AuthoredLab.objects.exists()


def test_set_up_is_for_those_who_may_see_the_lab_and_only_for_scenarios(
    imported: AuthoredLab, author: Any, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"/labs/shop/{STEP}/setup/"
    assert client_for(person("other", role=Role.INSTRUCTOR)).post(url).status_code == 404
    assert client_for(person("student")).post(url).status_code == 404
    anonymous = client_for(author)
    anonymous.logout()
    assert anonymous.post(url).status_code == 302  # to the log-in page
    assert client_for(author).get(url).status_code == 405
    # A catalog lab's setup is the learner's own work to do: no button, no endpoint.
    assert client_for(author).post("/labs/pods/kuard-pod/setup/").status_code == 404
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = client_for(author).post(url)
    assert answer.status_code == 202 and answer.json() == {
        "exercise": f"shop/{STEP}",
        "queued": True,
    }
    assert len(queued) == 1


def test_set_up_is_rate_limited(imported: AuthoredLab, author: Any, settings: Any) -> None:
    settings.KUBELAB_RATE_LIMITS = {**settings.KUBELAB_RATE_LIMITS, "setup": "2/10m"}
    client = client_for(author)
    answers = [client.post(f"/labs/shop/{STEP}/setup/") for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2]["Retry-After"]) > 0


def _folder(extra: dict[str, bytes] | None = None) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"shop/{p.relative_to(SHOP)}": p.read_bytes() for p in SHOP.rglob("*") if p.is_file()}
    files.update(extra or {})
    return {
        "files": [
            SimpleUploadedFile(path.rsplit("/", 1)[-1], body) for path, body in files.items()
        ],
        "paths": list(files),
    }


def test_a_scenarios_folder_imports_with_its_paths(author: Any) -> None:
    page = client_for(author).post(
        "/labs/studio/import-folder/", {**_folder(), "slug": "shop-folder"}, follow=True
    )
    assert "step 3: to read" in page.content.decode()
    lab = AuthoredLab.objects.get(slug="shop-folder")
    assert lab.valid_digest == lab.draft_digest
    assert "intro-background.sh" in lab.draft_files and "an uploaded folder" in lab.draft_spec


def test_a_folder_upload_that_climbs_out_or_lies_is_refused(author: Any) -> None:
    client = client_for(author)
    climbing = _folder({"shop/../../../etc/cron.d/x": b"* * * * * root sh"})
    page = client.post("/labs/studio/import-folder/", climbing, follow=True)
    assert "points outside the scenario&#x27;s folder" in page.content.decode()
    uneven = _folder()
    uneven["paths"] = uneven["paths"][:-1]
    page = client.post("/labs/studio/import-folder/", uneven, follow=True)
    assert "Choose a scenario&#x27;s folder to import." in page.content.decode()
    assert not AuthoredLab.objects.exists()
    student = client_for(person("student"))
    assert student.post("/labs/studio/import-folder/", _folder()).status_code == 404
