"""The test LMS (tests/lms/platform.py) against a fake tool of this module's own, without kubelab:
so that when a tests/lms test of kubelab fails, the platform is known to be a correct one."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from jwcrypto.jwk import JWK

from tests.lms.platform import (
    INSTRUCTOR,
    LEARNER,
    SCOPE_LINEITEM,
    SCOPE_NRPS,
    SCOPE_SCORE,
    TestPlatform,
)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def _rsa() -> tuple[str, dict[str, Any]]:
    key = JWK.generate(kty="RSA", size=2048)
    public = json.loads(key.export_public())
    public.update(kid=key.thumbprint(), alg="RS256", use="sig")
    return key.export_to_pem(private_key=True, password=None).decode(), public


class FakeTool:
    """The least of an LTI 1.3 tool: a JWKS, a login that sets a Secure state cookie after a
    cookie-check page, and a launch that checks that cookie and the id_token's signature."""

    def __init__(self) -> None:
        self.private_pem, self.public_jwk = _rsa()
        self.kid = self.public_jwk["kid"]
        self.platform: TestPlatform | None = None
        tool = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tool.get(self)

            def do_POST(self) -> None:
                tool.post(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @staticmethod
    def answer(
        handler: BaseHTTPRequestHandler, status: int, body: str, headers: dict[str, str]
    ) -> None:
        data = body.encode()
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(data)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/lms/jwks.json":
            self.answer(handler, 200, json.dumps({"keys": [self.public_jwk]}), {})
        elif parts.path == "/lms/login/" and "lti1p3_new_window" not in query:
            self.answer(handler, 200, "<p>checking cookies</p>", {"Content-Type": "text/html"})
        elif parts.path == "/lms/login/":
            assert self.platform is not None
            state, nonce = uuid.uuid4().hex, uuid.uuid4().hex
            auth = {
                "scope": "openid",
                "response_type": "id_token",
                "response_mode": "form_post",
                "prompt": "none",
                "client_id": query["client_id"],
                "redirect_uri": self.base + "/lms/launch/",
                "login_hint": query["login_hint"],
                "lti_message_hint": query["lti_message_hint"],
                "state": state,
                "nonce": nonce,
            }
            cookie = f"lti1p3-state-{state}={state}; Path=/; HttpOnly; Secure; SameSite=None"
            location = f"{self.platform.auth_url}?{urlencode(auth)}"
            self.answer(handler, 302, "", {"Location": location, "Set-Cookie": cookie})
        else:
            self.answer(handler, 404, "", {})

    def post(self, handler: BaseHTTPRequestHandler) -> None:
        assert self.platform is not None
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        cookies = dict(
            pair.strip().split("=", 1)
            for pair in (handler.headers.get("Cookie") or "").split(";")
            if "=" in pair
        )
        if cookies.get(f"lti1p3-state-{form.get('state')}") != form.get("state"):
            self.answer(handler, 403, "state cookie missing", {})
            return
        try:
            claims = platform_verify(self.platform, form["id_token"])
        except jwt.PyJWTError as exc:
            self.answer(handler, 403, f"refused: {exc}", {})
            return
        self.answer(handler, 200, json.dumps(claims), {"Content-Type": "application/json"})

    def assertion(self, audience: str, *, jti: str | None = None, key: str | None = None) -> str:
        assert self.platform is not None
        now = int(time.time())
        claims = {
            "iss": self.platform.client_id,
            "sub": self.platform.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": jti or uuid.uuid4().hex,
        }
        return jwt.encode(
            claims, key or self.private_pem, algorithm="RS256", headers={"kid": self.kid}
        )

    def token_form(self, scopes: list[str], assertion: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        }

    def token(self, scopes: list[str]) -> str:
        assert self.platform is not None
        form = self.token_form(scopes, self.assertion(self.platform.token_url))
        answer = requests.post(self.platform.token_url, data=form, timeout=5)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def deep_link_response(self, data: object, items: list[dict[str, Any]]) -> str:
        assert self.platform is not None
        now = int(time.time())
        claims = {
            "iss": self.platform.client_id,
            "aud": [self.platform.issuer],
            "iat": now,
            "exp": now + 600,
            "nonce": uuid.uuid4().hex,
            CLAIM + "deployment_id": self.platform.deployment_id,
            CLAIM + "message_type": "LtiDeepLinkingResponse",
            CLAIM + "version": "1.3.0",
            DL + "content_items": items,
            DL + "data": data,
        }
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers={"kid": self.kid})


def platform_verify(platform: TestPlatform, token: str) -> dict[str, Any]:
    """What a tool does with an id_token: the platform's key from its JWKS, over HTTP."""
    key = jwt.PyJWKClient(platform.jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=platform.client_id, issuer=platform.issuer
    )
    return claims


@pytest.fixture
def tool() -> Iterator[FakeTool]:
    fake = FakeTool()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def platform(tool: FakeTool) -> Iterator[TestPlatform]:
    with TestPlatform(tool.base) as lms:
        tool.platform = lms
        lms.add_member("teacher-1", "Tina Teacher", [INSTRUCTOR], "tina@example.test")
        lms.add_member("student-1", "Sam Student", [LEARNER], "sam@example.test")
        lms.add_link(
            "link-1",
            "Run kuard",
            custom={"kubelab_target": "exercise:pods/kuard-pod"},
            line_item={"scoreMaximum": 3, "label": "kuard", "resourceId": "kuard", "tag": "k"},
        )
        yield lms


def _auth_params(platform: TestPlatform, **changes: str) -> dict[str, str]:
    login = parse_qs(urlsplit(platform.login_initiation_url("student-1", "link-1")).query)
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": platform.tool_launch_url,
        "login_hint": "student-1",
        "lti_message_hint": login["lti_message_hint"][0],
        "state": "state-1",
        "nonce": "nonce-1",
    }
    return params | changes


def test_auth_refuses_a_wrong_redirect_uri_and_signs_a_launch_for_a_good_request(
    platform: TestPlatform,
) -> None:
    wrong = _auth_params(platform, redirect_uri="http://127.0.0.1:9/elsewhere/")
    refused = requests.get(platform.auth_url, params=wrong, timeout=5)
    assert refused.status_code == 400 and "redirect_uri" in refused.text
    stranger = _auth_params(platform, login_hint="nobody")
    assert requests.get(platform.auth_url, params=stranger, timeout=5).status_code == 400

    page = requests.get(platform.auth_url, params=_auth_params(platform), timeout=5)
    assert page.status_code == 200
    form = platform.last_auth_form()
    assert form["action"] == platform.tool_launch_url and form["state"] == "state-1"
    assert f'action="{platform.tool_launch_url}"' in page.text and ".submit()" in page.text

    claims = platform_verify(platform, form["id_token"])
    assert claims["aud"] == claims["azp"] == platform.client_id
    assert claims["nonce"] == "nonce-1" and claims["sub"] == "student-1"
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == platform.deployment_id
    assert claims[CLAIM + "target_link_uri"] == platform.tool_launch_url
    assert claims[CLAIM + "resource_link"]["id"] == "link-1"
    assert claims[CLAIM + "custom"] == {"kubelab_target": "exercise:pods/kuard-pod"}
    assert claims[CLAIM + "roles"] == [LEARNER]
    assert claims[CLAIM + "context"]["id"] == platform.context_id
    assert claims[CLAIM + "launch_presentation"]["document_target"] == "iframe"
    assert claims[CLAIM + "tool_platform"] == {"guid": "test-lms", "name": "Test LMS"}
    assert claims[AGS]["lineitem"] == platform.links["link-1"].lineitem
    assert claims[AGS]["lineitems"] == platform.url + "/lineitems"
    assert claims[NRPS]["context_memberships_url"] == platform.url + "/memberships"


def test_a_browser_launch_passes_the_cookie_check_and_brings_the_state_cookie_back(
    platform: TestPlatform,
) -> None:
    page = requests.get(platform.page_url("student-1", "link-1"), timeout=5)
    assert '<iframe id="tool"' in page.text and "lti_message_hint" in page.text

    answer = platform.browser_launch(requests.Session(), "student-1", "link-1")
    assert answer.status_code == 200, answer.text
    assert answer.json()[CLAIM + "resource_link"]["id"] == "link-1"

    answer = platform.browser_launch(requests.Session(), "teacher-1", deep_link=True)
    assert answer.status_code == 200, answer.text
    claims = answer.json()
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingRequest"
    assert CLAIM + "resource_link" not in claims
    settings = claims[DL + "deep_linking_settings"]
    assert settings["deep_link_return_url"] == platform.url + "/deep-link-return"
    assert settings["accept_types"] == ["ltiResourceLink"]
    assert settings["accept_presentation_document_targets"] == ["iframe", "window"]
    assert settings["accept_multiple"] is True and isinstance(settings["data"], str)


def test_tampered_id_tokens_do_not_verify(platform: TestPlatform) -> None:
    foreign = platform.id_token(user_id="student-1", nonce="n", sign_with_foreign_key=True)
    with pytest.raises(jwt.InvalidSignatureError):
        platform_verify(platform, foreign)
    expired = platform.id_token(
        user_id="student-1", nonce="n", issued_at=time.time() - 7200, expires_in=60
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        platform_verify(platform, expired)
    with pytest.raises(jwt.InvalidAudienceError):
        platform_verify(platform, platform.id_token(user_id="student-1", nonce="n", aud="other"))


def test_token_is_granted_once_per_assertion_and_only_to_the_tools_key(
    tool: FakeTool, platform: TestPlatform
) -> None:
    assertion = tool.assertion(platform.token_url)
    granted = requests.post(
        platform.token_url, data=tool.token_form([SCOPE_SCORE], assertion), timeout=5
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["token_type"] == "bearer" and granted.json()["scope"] == SCOPE_SCORE

    replayed = requests.post(
        platform.token_url, data=tool.token_form([SCOPE_SCORE], assertion), timeout=5
    )
    assert replayed.status_code == 400 and "jti" in replayed.text

    foreign_pem, _ = _rsa()
    forged = tool.assertion(platform.token_url, key=foreign_pem)
    refused = requests.post(
        platform.token_url, data=tool.token_form([SCOPE_SCORE], forged), timeout=5
    )
    assert refused.status_code == 400 and "Signature" in refused.text

    elsewhere = tool.assertion("http://127.0.0.1:9/token")
    refused = requests.post(
        platform.token_url, data=tool.token_form([SCOPE_SCORE], elsewhere), timeout=5
    )
    assert refused.status_code == 400 and "aud" in refused.text
    assert platform.token_requests == 1


def test_scores_are_recorded_stale_ones_ignored_and_tokens_required(
    tool: FakeTool, platform: TestPlatform
) -> None:
    lineitem = platform.links["link-1"].lineitem
    assert lineitem is not None
    now = datetime.now(UTC)

    def score(given: float, at: datetime, token: str | None) -> requests.Response:
        body: dict[str, Any] = {
            "userId": "student-1",
            "scoreGiven": given,
            "scoreMaximum": 3,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": at.isoformat(),
        }
        headers = {"Content-Type": SCORE_TYPE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(lineitem + "/scores", json=body, headers=headers, timeout=5)

    assert score(2, now, None).status_code == 401
    assert score(2, now, "not-a-token").status_code == 401
    token = tool.token([SCOPE_SCORE])
    assert score(2, now, token).status_code == 200
    assert score(1, now - timedelta(minutes=1), token).status_code == 200  # stale: ignored
    assert score(3, now + timedelta(seconds=1), token).status_code == 200
    assert score(4, now + timedelta(seconds=2), token).status_code == 400  # above the maximum
    assert [(s["scoreGiven"], s["lineitem"]) for s in platform.scores] == [
        (2, lineitem),
        (3, lineitem),
    ]
    wrong_type = requests.post(
        lineitem + "/scores",
        data="{}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert wrong_type.status_code == 415
    # A score token does not create line items.
    create = requests.post(
        platform.url + "/lineitems",
        json={"label": "x", "scoreMaximum": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert create.status_code == 403

    gradebook = requests.get(platform.gradebook_url(), timeout=5).text
    assert '<table id="grades">' in gradebook
    assert "<td>student-1</td><td>kuard</td><td>3</td><td>3</td>" in gradebook


def test_line_items_are_created_and_listed_by_link(tool: FakeTool, platform: TestPlatform) -> None:
    token = tool.token([SCOPE_LINEITEM])
    auth = {"Authorization": f"Bearer {token}"}
    made = requests.post(
        platform.url + "/lineitems",
        json={"label": "Extra", "scoreMaximum": 5, "resourceLinkId": "link-1", "tag": "x"},
        headers=auth | {"Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
        timeout=5,
    )
    assert made.status_code == 201, made.text
    assert made.json()["id"] in platform.lineitems
    listed = requests.get(
        platform.url + "/lineitems", params={"resource_link_id": "link-1"}, headers=auth, timeout=5
    ).json()
    assert sorted(item["label"] for item in listed) == ["Extra", "kuard"]


def test_the_lms_down_answers_503(tool: FakeTool, platform: TestPlatform) -> None:
    token = tool.token([SCOPE_SCORE, SCOPE_NRPS])
    platform.down = True
    form = tool.token_form([SCOPE_SCORE], tool.assertion(platform.token_url))
    assert requests.post(platform.token_url, data=form, timeout=5).status_code == 503
    auth = {"Authorization": f"Bearer {token}", "Accept": MEMBERS_TYPE}
    assert requests.get(platform.url + "/lineitems", headers=auth, timeout=5).status_code == 503
    assert requests.get(platform.url + "/memberships", headers=auth, timeout=5).status_code == 503
    platform.down = False
    assert requests.get(platform.url + "/memberships", headers=auth, timeout=5).status_code == 200


def test_the_roster_comes_in_pages(tool: FakeTool, platform: TestPlatform) -> None:
    platform.add_member("student-2", "Pat Student", [LEARNER])
    headers = {"Authorization": f"Bearer {tool.token([SCOPE_NRPS])}", "Accept": MEMBERS_TYPE}
    url: str | None = platform.url + "/memberships"
    pages: list[list[dict[str, Any]]] = []
    while url:
        answer = requests.get(url, headers=headers, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"] == MEMBERS_TYPE
        assert answer.json()["context"]["id"] == platform.context_id
        pages.append(answer.json()["members"])
        url = answer.links.get("next", {}).get("url")
    assert [len(page) for page in pages] == [2, 1]
    members = [member for page in pages for member in page]
    assert [m["user_id"] for m in members] == ["teacher-1", "student-1", "student-2"]
    assert members[0]["email"] == "tina@example.test" and members[0]["roles"] == [INSTRUCTOR]
    assert all(m["status"] == "Active" for m in members)
    wrong_accept = headers | {"Accept": "text/html"}
    assert (
        requests.get(platform.url + "/memberships", headers=wrong_accept, timeout=5).status_code
        == 406
    )


def test_a_deep_linking_response_makes_links_with_line_items(
    tool: FakeTool, platform: TestPlatform
) -> None:
    request = jwt.decode(
        platform.id_token(user_id="teacher-1", nonce="n", deep_link=True),
        options={"verify_signature": False},
    )
    settings = request[DL + "deep_linking_settings"]
    items: list[dict[str, Any]] = [
        {
            "type": "ltiResourceLink",
            "title": "Pods lab",
            "url": tool.base + "/lms/launch/",
            "custom": {"kubelab_target": "lab:pods"},
            "lineItem": {"scoreMaximum": 7, "label": "Pods", "resourceId": "lab:pods"},
        },
        {"type": "ltiResourceLink", "title": "A chapter", "url": tool.base + "/lms/launch/"},
    ]
    token = tool.deep_link_response(settings["data"], items)
    page = (
        f'<form action="{settings["deep_link_return_url"]}" method="post">'
        f'<input type="hidden" name="JWT" value="{token}"></form><script>submit()</script>'
    )
    session = requests.Session()
    accepted = platform.submit_deep_link_form(session, page)
    assert accepted.status_code == 200, accepted.text
    assert '<ul id="links">' in accepted.text
    assert platform.deep_link_returns == [items]
    made = [link for link in platform.links.values() if link.id != "link-1"]
    assert [(link.title, link.custom) for link in made] == [
        ("Pods lab", {"kubelab_target": "lab:pods"}),
        ("A chapter", {}),
    ]
    assert made[1].lineitem is None and made[0].lineitem is not None
    column = platform.lineitems[made[0].lineitem]
    assert (column["scoreMaximum"], column["label"], column["resourceId"]) == (
        7,
        "Pods",
        "lab:pods",
    )
    assert column["resourceLinkId"] == made[0].id

    again = platform.submit_deep_link_form(session, page)
    assert again.status_code == 400  # the same response posted twice
    unasked = platform.submit_deep_link_form(
        session, page.replace(token, tool.deep_link_response("forged-data", items))
    )
    assert unasked.status_code == 400 and "data" in unasked.text
    garbage = platform.submit_deep_link_form(session, page.replace(token, "a.b.c"))
    assert garbage.status_code == 400
    assert len(platform.deep_link_returns) == 1
