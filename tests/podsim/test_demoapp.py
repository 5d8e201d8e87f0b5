"""The demo app as the shim runs it: a system-python process speaking HTTP on stdin/stdout."""

from __future__ import annotations

import base64
import http.client
import io
import json
import random
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}

pytestmark = pytest.mark.skipif(
    not Path(PYTHON).exists(), reason="the shim runs the demo app with /usr/bin/python3"
)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def read_response(stream: IO[bytes], head: bool = False) -> HttpResponse | None:
    status_line = stream.readline()
    if not status_line:
        return None
    version, status, _ = status_line.decode("latin-1").split(" ", 2)
    assert version == "HTTP/1.1"
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.lower()] = value.strip()
    length = 0 if head else int(headers["content-length"])
    body = stream.read(length)
    assert len(body) == length
    return HttpResponse(int(status), headers, body)


def parse_responses(data: bytes) -> list[HttpResponse]:
    stream = io.BytesIO(data)
    responses = []
    while (response := read_response(stream)) is not None:
        responses.append(response)
    return responses


def request(path: str, method: str = "GET", *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost:8080", "User-Agent: curl/8.5.0"]
    lines += headers
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def serve_command(pod_dir: Path, state_dir: Path, port: int = 8080) -> list[str]:
    return [
        PYTHON,
        "-E",
        "-s",
        "-m",
        "podsim.demoapp",
        "serve",
        "--pod-dir",
        str(pod_dir),
        "--state-dir",
        str(state_dir),
        "--port",
        str(port),
    ]


@dataclass
class Connection:
    responses: list[HttpResponse]
    returncode: int
    stderr: str


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def connect(pod_dir: Path, state_dir: Path) -> Iterator[Any]:
    """Runs one connection: sends ``data``, closes stdin, returns what came back."""

    def run(data: bytes, pod: Path | None = None) -> Connection:
        done = subprocess.run(
            serve_command(pod or pod_dir, state_dir),
            input=data,
            capture_output=True,
            cwd=REPO,
            env=CLEAN_ENV,
            timeout=30,
        )
        assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
        return Connection(parse_responses(done.stdout), done.returncode, done.stderr.decode())

    yield run


def test_keep_alive_serves_two_requests_on_one_connection(pod_dir: Path, state_dir: Path) -> None:
    process = subprocess.Popen(
        serve_command(pod_dir, state_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=CLEAN_ENV,
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stdin and process.stdout and process.stderr
        process.stdin.write(request("/healthy"))
        process.stdin.flush()
        first = read_response(process.stdout)
        assert first and (first.status, first.text) == (200, "ok\n")
        assert "connection" not in first.headers
        assert process.poll() is None  # still there, waiting for the next request
        process.stdin.write(request("/ready"))
        process.stdin.flush()
        second = read_response(process.stdout)
        assert second and (second.status, second.text) == (200, "ok\n")
        process.stdin.close()
        assert process.wait(timeout=20) == 0
        log = process.stderr.read().decode().splitlines()
        remote = f"127.0.0.1:{32768 + process.pid % 28000}"
        assert log == [f"{remote} GET /healthy 200", f"{remote} GET /ready 200"]
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()


def test_connection_close_and_http10_end_the_connection(connect: Any) -> None:
    closing = connect(request("/", "GET", "Connection: close") + request("/healthy"))
    assert [r.status for r in closing.responses] == [200]
    assert closing.responses[0].headers["connection"] == "close"
    assert closing.returncode == 0
    old = connect(b"GET /healthy HTTP/1.0\r\n\r\n" + request("/healthy"))
    assert len(old.responses) == 1
    kept = connect(b"GET /healthy HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + request("/ready"))
    assert [r.status for r in kept.responses] == [200, 200]
    assert kept.responses[0].headers["connection"] == "keep-alive"


def test_healthy_flip_persists_across_processes(connect: Any, state_dir: Path) -> None:
    assert connect(request("/healthy/fail")).responses[0].status == 200
    failing = connect(request("/healthy") + request("/healthy")).responses
    assert [r.status for r in failing] == [500, 500]
    assert "liveness" in failing[0].text
    state = json.loads((state_dir / "state.json").read_text())
    healthy = state["healthy"]
    assert healthy["failing"] is True
    assert healthy["failing_since"] == healthy["changed_at"]
    assert (healthy["hits"], healthy["consecutive_failures"]) == (2, 2)
    assert state["ready"]["failing"] is False
    assert connect(request("/healthy/ok", "POST")).responses[0].status == 200
    assert connect(request("/healthy")).responses[0].text == "ok\n"
    healthy = json.loads((state_dir / "state.json").read_text())["healthy"]
    assert (healthy["failing"], healthy["failing_since"], healthy["hits"]) == (False, None, 3)
    assert healthy["consecutive_failures"] == 0
    assert not list(state_dir.glob(".state-*"))  # no temporary file left behind
    state = json.loads((state_dir / "state.json").read_text())
    assert state["memory"]["limit_bytes"] == 256 * 2**20


def test_a_real_http_client_over_a_socket(pod_dir: Path, state_dir: Path) -> None:
    """The shim hands the app a stream like a socket: Python's own client, kept alive."""
    ours, theirs = socket.socketpair()
    process = subprocess.Popen(
        serve_command(pod_dir, state_dir),
        stdin=theirs.fileno(),
        stdout=theirs.fileno(),
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=CLEAN_ENV,
    )
    theirs.close()
    try:
        client = http.client.HTTPConnection("localhost", 8080, timeout=20)
        client.sock = ours
        client.request("GET", "/env", headers={"Accept": "text/html"})
        page = client.getresponse()
        assert page.status == 200 and b"MY_SVC_SERVICE_HOST" in page.read()
        client.request("POST", "/ready/fail", body=b"", headers={"Content-Length": "0"})
        flipped = client.getresponse()
        assert (flipped.status, flipped.read()) == (
            200,
            b"readiness now failing: /ready answers 500\n",
        )
        client.request("GET", "/ready")
        assert client.getresponse().status == 500
        ours.shutdown(socket.SHUT_WR)
        assert process.wait(timeout=20) == 0
    finally:
        ours.close()
        process.kill()
        process.wait()
        assert process.stderr
        process.stderr.close()


def test_expect_100_continue(pod_dir: Path, state_dir: Path) -> None:
    data = request(
        "/memory/alloc",
        "POST",
        "Expect: 100-continue",
        "Content-Type: application/x-www-form-urlencoded",
        body=b"size=1Mi",
    )
    done = subprocess.run(
        serve_command(pod_dir, state_dir),
        input=data,
        capture_output=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=30,
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    assert done.stdout.startswith(interim)
    (response,) = parse_responses(done.stdout[len(interim) :])
    assert response.status == 200 and "Allocated 1Mi more." in response.text


def test_ready_flip_answers_500_as_kuard_does(connect: Any) -> None:
    responses = connect(request("/ready/fail") + request("/ready") + request("/healthy")).responses
    assert [r.status for r in responses] == [200, 500, 200]


def put_fail_next(path: str, body: bytes) -> bytes:
    return request(path, "PUT", "Content-Type: application/json", body=body)


def test_kuards_probe_api_fails_the_next_n_answers(connect: Any, state_dir: Path) -> None:
    """Real kuard's form: PUT /healthy/api {"failNext": N}; the next N answers are 500."""
    put = connect(put_fail_next("/healthy/api", b'{"failNext": 2}')).responses[0]
    assert put.status == 200 and put.headers["content-type"] == "application/json"
    assert json.loads(put.text)["probePath"] == "/healthy"
    answers = connect(request("/healthy") * 3).responses
    assert [(r.status, r.text) for r in answers] == [
        (500, "fail, 1 left\n"),
        (500, "fail, 0 left\n"),
        (200, "ok\n"),
    ]
    status = json.loads(connect(request("/healthy/api")).responses[0].text)
    assert status["failNext"] == 0
    assert [h["code"] for h in status["history"]] == [200, 500, 500]  # newest first
    assert [h["id"] for h in status["history"]] == [3, 2, 1]
    # Negative: every answer fails until it is set back to 0.
    connect(put_fail_next("/ready/api", b'{"failNext": -1}'))
    assert [r.text for r in connect(request("/ready") * 2).responses] == ["fail, permanent\n"] * 2
    connect(put_fail_next("/ready/api", b'{"failNext": 0}'))
    assert connect(request("/ready")).responses[0].status == 200
    stored = json.loads((state_dir / "state.json").read_text())
    assert stored["ready"]["fail_next_since"] is None


def test_the_probe_api_counts_the_kubelets_probes_by_time(
    connect: Any, pod_dir: Path, state_dir: Path
) -> None:
    """The simulated kubelet never reaches the app: failNext left counts one probe per period."""
    pod = json.loads((pod_dir / "pod.json").read_text())
    pod["spec"]["containers"][0]["livenessProbe"] = {
        "httpGet": {"path": "/healthy", "port": 8080},
        "periodSeconds": 10,
    }
    (pod_dir / "pod.json").write_text(json.dumps(pod))
    connect(put_fail_next("/healthy/api", b'{"failNext": 5}'))
    state = json.loads((state_dir / "state.json").read_text())
    state["healthy"]["fail_next_since"] -= 25  # three probes made: at 0, 10 and 20 s
    (state_dir / "state.json").write_text(json.dumps(state))
    status = json.loads(connect(request("/healthy/api")).responses[0].text)
    assert status["failNext"] == 2


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"failNext": "3"}', "whole number"),
        (b'{"failNext": true}', "whole number"),
    ],
)
def test_a_bad_fail_next_is_refused_and_changes_nothing(
    connect: Any, state_dir: Path, body: bytes, needle: str
) -> None:
    answer = connect(put_fail_next("/healthy/api", body)).responses[0]
    assert answer.status == 400 and needle in answer.text
    assert not (state_dir / "state.json").exists()


# kuard's KeyGen workload: the CPU load learners switch on (podsim.keygen)


def put_keygen(body: bytes) -> bytes:
    return request("/keygen", "PUT", "Content-Type: application/json", body=body)


def test_put_starts_the_workload_and_get_reports_it(connect: Any, state_dir: Path) -> None:
    answer = connect(put_keygen(b'{"enable": true, "timeToRun": 60}')).responses[0]
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    status = json.loads(answer.text)
    assert status["config"]["enable"] is True and status["config"]["timeToRun"] == 60
    assert status["history"][0]["data"] == "(ID 1) Workload starting"
    stored = json.loads((state_dir / "state.json").read_text())["keygen"]
    assert stored["enable"] is True and stored["banked"] == 0
    # Thirty seconds later (the clock moved back in the state), 15 keys are done.
    stored["since"] -= 30
    state = json.loads((state_dir / "state.json").read_text())
    state["keygen"] = stored
    (state_dir / "state.json").write_text(json.dumps(state))
    history = json.loads(connect(request("/keygen")).responses[0].text)["history"]
    assert history[-1]["data"].startswith("(ID 1 15/Inf) Item done: SHA256:")
    assert len(history) == 16  # the start line and 15 keys


def test_switching_off_banks_the_busy_seconds(connect: Any, state_dir: Path) -> None:
    connect(put_keygen(b'{"enable": true}'))
    state = json.loads((state_dir / "state.json").read_text())
    state["keygen"]["since"] -= 40
    (state_dir / "state.json").write_text(json.dumps(state))
    answer = json.loads(connect(put_keygen(b'{"enable": false}')).responses[0].text)
    assert answer["config"]["enable"] is False and answer["history"] == []
    stored = json.loads((state_dir / "state.json").read_text())["keygen"]
    assert stored["banked"] == pytest.approx(40, abs=1)  # what the shim keeps counting


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"not json", "not JSON"),
        (b"[true]", "JSON object"),
        (b'{"enable": "yes"}', "true or false"),
        (b'{"enable": true, "numToGen": -1}', "whole number"),
        (b'{"enable": true, "timeToRun": 1e99}', "whole number"),
    ],
)
def test_a_bad_config_is_refused_and_changes_nothing(
    connect: Any,
    state_dir: Path,
    body: bytes,
    needle: str,
) -> None:
    answer = connect(put_keygen(body)).responses[0]
    assert answer.status == 400 and needle in answer.text
    assert not (state_dir / "state.json").exists()


def test_kuards_dns_api_answers_json(connect: Any) -> None:
    query = b'{"type": "A", "name": "kubernetes.default"}'
    answers = connect(
        request("/dns/api", "POST", "Content-Type: application/json", body=query)
        + request("/dns/api", "POST", body=b'{"type": "MX", "name": "x"}')
        + request("/dns/api", "POST", body=b'{"name": "-bad-"}')
        + request("/dns/api")
    ).responses
    assert answers[0].status == 200
    assert "kubernetes.default.svc.cluster.local" in json.loads(answers[0].text)["result"]
    assert answers[1].status == 400 and "Unknown DNS type: MX" in answers[1].text
    assert answers[2].status == 400 and "not a valid DNS name" in answers[2].text
    assert answers[3].status == 405 and answers[3].headers["allow"] == "POST"


def test_env_shows_the_pod_and_service_variables(connect: Any) -> None:
    (response,) = connect(request("/env")).responses
    lines = response.text.splitlines()
    assert response.status == 200
    assert "HOSTNAME=kuard" in lines
    assert "MY_POD_NAME=kuard" in lines
    assert "MY_SVC_SERVICE_HOST=10.96.16.77" in lines
    assert "MY_SVC_PORT=tcp://10.96.16.77:80" in lines
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in lines
    assert lines[0] == "Command: (image default: /kuard)"


def test_overview_shows_the_pod_and_the_request(connect: Any) -> None:
    (response,) = connect(request("/", "GET", "X-Probe: 42")).responses
    text = response.text
    for expected in ("kuard", "kl-demo", "worker-4", "10.244.4.2", "app=kuard, color=blue"):
        assert expected in text
    assert "X-Probe: 42" in text and "Method:" in text


def test_other_images_say_what_answers(connect: Any, pod_dir: Path) -> None:
    pod = json.loads((pod_dir / "pod.json").read_text())
    pod["spec"]["containers"][0]["image"] = "nginx:1.27"
    (pod_dir / "pod.json").write_text(json.dumps(pod))
    (response,) = connect(request("/")).responses
    assert response.text.startswith("kubelab demo app answering for nginx:1.27")


def test_file_browser_shows_kubelet_files_and_volumes(connect: Any, pod_dir: Path) -> None:
    refs = json.loads((pod_dir / "refs.json").read_text())
    refs["configmaps"]["my-config"]["page.html"] = "<script>alert(1)</script>"
    refs["configmaps"]["my-config"]["<img src=x>"] = "x"
    (pod_dir / "refs.json").write_text(json.dumps(refs))
    html_accept = "Accept: text/html"
    root, config, value, page, listing, missing = connect(
        request("/fs")
        + request("/fs/config/")
        + request("/fs/config/my-key")
        + request("/fs/config/page.html", "GET", html_accept)
        + request("/fs/config", "GET", html_accept)
        + request("/fs/usr/bin")
    ).responses
    assert root.text.splitlines()[:6] == ["/", "config/", "etc/", "scratch/", "tls/", "var/"]
    assert "my-key" in config.text.splitlines()
    assert (value.status, value.body) == (200, b"my-value")
    assert page.headers["content-type"] == "text/plain; charset=utf-8"  # never rendered
    assert page.body == b"<script>alert(1)</script>"
    assert "<img" not in listing.text and "&lt;img src=x&gt;" in listing.text
    assert 'href="/fs/config/page.html"' in listing.text
    assert missing.status == 404 and "not" in missing.text


def test_dns_answers_services_and_nxdomain(connect: Any) -> None:
    found, kube, missing = connect(
        request("/dns?name=my-svc")
        + request("/dns?name=kubernetes.default")
        + request("/dns?name=no-such-svc")
    ).responses
    assert "my-svc.kl-demo.svc.cluster.local.\t30\tIN\tA\t10.96.16.77" in found.text
    assert "status: NOERROR" in found.text
    assert "IN\tA\t10.96.0.1" in kube.text
    assert missing.status == 200 and "status: NXDOMAIN" in missing.text


def test_no_socket_is_ever_opened(pod_dir: Path, state_dir: Path) -> None:
    guarded = (
        "import socket, runpy, sys\n"
        "def refuse(*a, **k): raise SystemExit('socket use: ' + repr(a))\n"
        "socket.socket.__init__ = refuse; socket.getaddrinfo = refuse\n"
        "socket.create_connection = refuse; socket.socketpair = refuse\n"
        "socket.gethostbyname = refuse\n"
        "sys.argv = ['demoapp'] + sys.argv[1:]\n"
        "runpy.run_module('podsim.demoapp', run_name='__main__')\n"
    )
    command = [PYTHON, "-E", "-s", "-c", guarded, *serve_command(pod_dir, state_dir)[5:]]
    data = request("/dns?name=example.com") + request("/dns?name=kubernetes.default") + request("/")
    done = subprocess.run(
        command, input=data, capture_output=True, cwd=REPO, env=CLEAN_ENV, timeout=30
    )
    assert done.returncode == 0, done.stderr
    responses = parse_responses(done.stdout)
    assert [r.status for r in responses] == [200, 200, 200]
    assert "no network" in responses[0].text


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"garbage\x00\xff\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: bell\x07\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET " + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"POST /healthy/fail HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 413),
        (b"POST /healthy/fail HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        (b"GET example.com HTTP/1.1\r\n\r\n", 400),
        (b"GET http://[::1/ HTTP/1.1\r\n\r\n", 400),
        (b"POST /healthy/fail HTTP/1.1\r\nContent-Length: \xb2\r\n\r\nab", 400),
        (b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"GET /dns?" + b"&".join(b"a=%d" % i for i in range(50)) + b" HTTP/1.1\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_an_error_and_a_clean_exit(
    connect: Any, state_dir: Path, data: bytes, status: int
) -> None:
    result = connect(data + request("/healthy/fail"))
    assert [r.status for r in result.responses] == [status]
    assert result.responses[0].headers["connection"] == "close"
    assert result.returncode == 0
    assert not (state_dir / "state.json").exists()  # nothing after the bad request ran
    assert re.fullmatch(rf"127\.0\.0\.1:\d+ bad request \({status}\): [ -~]+\n", result.stderr)


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x",
        b"GET / HTTP/1.1",
        b"POST /healthy/fail HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
    ],
)
def test_a_request_cut_short_gets_400(connect: Any, state_dir: Path, data: bytes) -> None:
    result = connect(data)
    assert ([r.status for r in result.responses], result.returncode) == ([400], 0)
    assert not (state_dir / "state.json").exists()


def test_random_bytes_never_crash_it(connect: Any) -> None:
    noise = random.Random(8).randbytes(6000)
    result = connect(noise)
    assert result.returncode == 0
    assert [r.status for r in result.responses] in ([400], [414], [431])


def test_empty_connection_exits_quietly(connect: Any) -> None:
    result = connect(b"")
    assert (result.responses, result.returncode, result.stderr) == ([], 0, "")


def test_not_found_head_and_method_not_allowed(pod_dir: Path, state_dir: Path) -> None:
    data = (
        request("/nope")
        + request("/healthy", "HEAD")
        + request("/healthy", "DELETE")
        + request("/env", "POST")
    )
    done = subprocess.run(
        serve_command(pod_dir, state_dir),
        input=data,
        capture_output=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=30,
    )
    stream = io.BytesIO(done.stdout)
    missing = read_response(stream)
    head = read_response(stream, head=True)
    delete = read_response(stream)
    post = read_response(stream)
    assert missing and missing.status == 404 and "/nope" in missing.text
    assert head and head.status == 200 and head.headers["content-length"] == "3"
    assert stream.read(3) != b"ok\n"  # no body after HEAD
    assert delete and delete.status == 405 and delete.headers["allow"] == "GET, HEAD, POST"
    assert post and post.status == 405
    assert done.returncode == 0


def test_html_escapes_hostile_labels_and_request_data(connect: Any, pod_dir: Path) -> None:
    pod = json.loads((pod_dir / "pod.json").read_text())
    hostile = '<script>alert("x")</script>'
    pod["metadata"]["labels"]["evil"] = hostile
    pod["metadata"]["name"] = "kuard<b>"
    (pod_dir / "pod.json").write_text(json.dumps(pod))
    accept = "Accept: text/html,application/xhtml+xml,*/*;q=0.8"
    overview, query, missing = connect(
        request("/?q=%3Cimg%20src%3Dx%3E", "GET", accept, "X-Evil: <i>hi</i><img src=x>")
        + request("/dns?name=%3Cscript%3E", "GET", accept)
        + request("/%3Cscript%3Ealert(1)%3C/script%3E", "GET", accept)
    ).responses
    assert overview.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in overview.headers["content-security-policy"]
    for response in (overview, query, missing):
        assert "<script" not in response.text
        assert "<img" not in response.text and "<i>" not in response.text
        assert "kuard<b>" not in response.text
    assert "evil=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in overview.text
    assert "&lt;i&gt;hi&lt;/i&gt;" in overview.text
    assert query.status == 400 and 'value="&lt;script&gt;"' in query.text
    assert missing.status == 404 and "&lt;script&gt;alert(1)&lt;/script&gt;" in missing.text


def test_plain_text_for_curl_and_html_for_browsers(connect: Any) -> None:
    plain, star, browser = connect(
        request("/memory")
        + request("/memory", "GET", "Accept: */*")
        + request("/memory", "GET", "Accept: text/html")
    ).responses
    assert plain.headers["content-type"] == star.headers["content-type"]
    assert plain.headers["content-type"].startswith("text/plain")
    assert browser.text.startswith("<!DOCTYPE html>")
    assert '<a href="/healthy">' in browser.text and '<form method="post"' in browser.text


def test_html_form_posts_redirect_back(connect: Any, state_dir: Path) -> None:
    form = request(
        "/memory/alloc",
        "POST",
        "Accept: text/html",
        "Content-Type: application/x-www-form-urlencoded",
        body=b"size=64Mi",
    )
    (response,) = connect(form).responses
    assert (response.status, response.headers["location"]) == (303, "/memory")
    memory = json.loads((state_dir / "state.json").read_text())["memory"]
    assert memory["allocated_bytes"] == 64 * 2**20


def test_memory_over_the_limit_is_an_oom_kill_in_waiting(connect: Any, state_dir: Path) -> None:
    first, second = connect(
        request("/memory/alloc?size=200Mi") + request("/memory/alloc?size=100Mi")
    ).responses
    assert "Memory limit: 256Mi" in first.text and "OOM" not in first.text
    assert "OOM-killed" in second.text
    memory = json.loads((state_dir / "state.json").read_text())["memory"]
    assert memory["allocated_bytes"] == 300 * 2**20
    assert memory["limit_bytes"] == 256 * 2**20
    assert memory["over_limit"] is True and memory["over_limit_since"] is not None
    bad, huge, freed = connect(
        request("/memory/alloc?size=lots")
        + request("/memory/alloc?size=1Ei")
        + request("/memory/free")
    ).responses
    assert (bad.status, huge.status, freed.status) == (400, 400, 200)
    memory = json.loads((state_dir / "state.json").read_text())["memory"]
    assert (memory["allocated_bytes"], memory["over_limit"]) == (0, False)


def test_a_corrupt_state_file_reads_as_the_default(connect: Any, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "state.json").write_text("{not json")
    assert connect(request("/healthy")).responses[0].status == 200


def test_startup_log(pod_dir: Path) -> None:
    done = subprocess.run(
        [
            PYTHON,
            "-E",
            "-s",
            "-m",
            "podsim.demoapp",
            "startup-log",
            "--pod-dir",
            str(pod_dir),
            "--container",
            "kuard",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Starting kuard version: v0.10.0-blue"
    assert "Pod kuard in namespace kl-demo on node worker-4" in lines
    assert lines[-1] == "Serving on HTTP on :8080"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pod-dir", "/nonexistent"], "pod.json: not found"),
        (["--container", "nope"], "no container 'nope'"),
    ],
)
def test_unusable_pod_dir_is_one_line_and_exit_2(
    pod_dir: Path, args: list[str], message: str
) -> None:
    command = [PYTHON, "-E", "-s", "-m", "podsim.demoapp", "startup-log"]
    command += ["--pod-dir", str(pod_dir), *args]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=CLEAN_ENV, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.splitlines()) == 1


def test_poddir_describe(pod_dir: Path) -> None:
    done = subprocess.run(
        [PYTHON, "-E", "-s", "-m", "podsim.poddir", "describe", "--pod-dir", str(pod_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    assert described["hostname"] == "kuard"
    assert ["MY_SVC_SERVICE_HOST", "10.96.16.77"] in described["env"]
    assert described["resolv_conf"].startswith("search kl-demo.svc.cluster.local ")
    tls = next(m for m in described["mounts"] if m["mount_path"] == "/tls")
    assert base64.b64decode(tls["files"]["kuard.key"]) == b"KEY"
    assert described["startup_lines"][-1] == "Serving on HTTP on :8080"
    assert described["warnings"] == []


def test_runs_with_only_the_podsim_package_present(pod_dir: Path, tmp_path: Path) -> None:
    """The jail holds just podsim/: nothing else may be needed."""
    root = tmp_path / "opt-kubelab"
    (root / "podsim").mkdir(parents=True)
    for module in (REPO / "podsim").glob("*.py"):
        shutil.copy(module, root / "podsim" / module.name)
    base = [PYTHON, "-E", "-s", "-m", "podsim.demoapp"]
    state = tmp_path / "state"
    served = subprocess.run(
        [*base, "serve", "--pod-dir", str(pod_dir), "--state-dir", str(state), "--port", "8080"],
        input=request("/env") + request("/dns?name=my-svc") + request("/memory"),
        capture_output=True,
        cwd=root,
        env={},
        timeout=30,
    )
    assert served.returncode == 0, served.stderr
    assert [r.status for r in parse_responses(served.stdout)] == [200, 200, 200]
    logged = subprocess.run(
        [*base, "startup-log", "--pod-dir", str(pod_dir)],
        capture_output=True,
        cwd=root,
        env={},
        timeout=30,
    )
    assert logged.returncode == 0 and b"Serving on HTTP on :8080" in logged.stdout


@pytest.fixture
def tls_pod_dir(pod_dir: Path, tmp_path: Path) -> Path:
    """The pod dir with a real certificate in the kuard-tls Secret (the book's /tls mount)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, certificate = tmp_path / "kuard.key", tmp_path / "kuard.crt"
    curve = "ec_paramgen_curve:prime256v1"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", curve, "-nodes"),
            *("-keyout", str(key), "-out", str(certificate), "-days", "1", "-subj", "/CN=kuard"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    refs = json.loads((pod_dir / "refs.json").read_text())
    refs["secrets"]["kuard-tls"] = {
        path.name: base64.b64encode(path.read_bytes()).decode() for path in (key, certificate)
    }
    (pod_dir / "refs.json").write_text(json.dumps(refs))
    return pod_dir


def test_https_on_8443_with_the_mounted_certificate(tls_pod_dir: Path, state_dir: Path) -> None:
    ours, theirs = socket.socketpair()
    process = subprocess.Popen(
        serve_command(tls_pod_dir, state_dir, port=8443),
        stdin=theirs.fileno(),
        stdout=theirs.fileno(),
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=CLEAN_ENV,
    )
    theirs.close()
    context = ssl.create_default_context(cafile=str(tls_pod_dir.parent / "kuard.crt"))
    context.check_hostname = False
    try:
        tls = context.wrap_socket(ours, server_hostname="kuard")
        tls.settimeout(20)
        client = http.client.HTTPConnection("localhost", 8443, timeout=20)
        client.sock = tls
        for _ in range(2):  # kept alive over TLS
            client.request("GET", "/healthy")
            answer = client.getresponse()
            assert (answer.status, answer.read()) == (200, b"ok\n")
        client.request("GET", "/fs/tls")
        assert b"kuard.crt" in client.getresponse().read()
        tls.close()
        assert process.wait(timeout=20) == 0
        assert process.stderr
        log = process.stderr.read().decode()
        assert log.count("GET /healthy 200") == 2 and "Traceback" not in log
    finally:
        ours.close()
        process.kill()
        process.wait()


def test_plain_http_on_the_https_port_is_told_so(tls_pod_dir: Path) -> None:
    done = subprocess.run(
        serve_command(tls_pod_dir, tls_pod_dir.parent / "state", port=8443),
        input=request("/healthy"),
        capture_output=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=30,
    )
    (response,) = parse_responses(done.stdout)
    assert response.status == 400
    assert response.text == "Client sent an HTTP request to an HTTPS server.\n"
    assert done.returncode == 0


def test_without_a_certificate_8443_is_plain_http(connect: Any, pod_dir: Path) -> None:
    refs = json.loads((pod_dir / "refs.json").read_text())
    del refs["secrets"]["kuard-tls"]
    (pod_dir / "refs.json").write_text(json.dumps(refs))
    assert connect(request("/healthy")).responses[0].status == 200


def test_a_broken_tls_handshake_ends_quietly(tls_pod_dir: Path) -> None:
    done = subprocess.run(
        serve_command(tls_pod_dir, tls_pod_dir.parent / "state", port=8443),
        input=b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64,
        capture_output=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=30,
    )
    assert done.returncode == 0
    assert b"TLS handshake error" in done.stderr and b"Traceback" not in done.stderr
