"""Pages and /healthz over real HTTP from the web server, with a real Celery worker behind it."""

import json
import urllib.error
import urllib.request

import pytest
from django.test import Client, override_settings

from tests.fixtures.processes import WebServer, WorkerProcess


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.django_db(transaction=True)
def test_home_page_renders_over_http(web_server: WebServer) -> None:
    status, body = fetch(web_server.url + "/")
    assert status == 200
    assert "Learn Kubernetes by doing it." in body
    assert 'href="/static/css/kubelab.css"' in body


@pytest.mark.django_db(transaction=True)
def test_static_files_are_served(web_server: WebServer) -> None:
    status, body = fetch(web_server.url + "/static/css/kubelab.css")
    assert status == 200
    assert "--accent" in body


@pytest.mark.django_db(transaction=True)
def test_home_page_in_traditional_chinese(web_server: WebServer) -> None:
    request = urllib.request.Request(web_server.url + "/", headers={"Accept-Language": "zh-Hant"})
    with urllib.request.urlopen(request, timeout=15) as response:
        body = response.read().decode()
    assert '<html lang="zh-hant">' in body


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_healthz_reports_every_part(
    web_server: WebServer, celery_worker_process: WorkerProcess
) -> None:
    status, body = fetch(web_server.url + "/healthz")
    report = json.loads(body)
    assert set(report["checks"]) == {"database", "redis", "celery", "kubernetes"}
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["redis"]["ok"] is True
    assert report["checks"]["celery"]["ok"] is True
    assert celery_worker_process.name in report["checks"]["celery"]["workers"]
    assert status == (200 if report["ok"] else 503)


@pytest.mark.django_db
def test_healthz_with_redis_down_is_503_not_500() -> None:
    with override_settings(
        REDIS_URL="redis://127.0.0.1:1/0", CELERY_BROKER_URL="redis://127.0.0.1:1/0"
    ):
        response = Client().get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert report["checks"]["redis"]["ok"] is False
    assert "Connection" in report["checks"]["redis"]["error"]
    assert report["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_names_missing_kubeconfig(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with override_settings(KUBELAB_KUBECONFIG=str(tmp_path / "nope.kubeconfig")):
        report = Client().get("/healthz").json()
    assert report["checks"]["kubernetes"]["ok"] is False
    assert "no kubeconfig at" in report["checks"]["kubernetes"]["error"]
