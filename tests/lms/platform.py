"""The test LMS: a real LTI 1.3 platform on 127.0.0.1 for tests of kubelab's tool side (lms/).

It is built on lti1p3platform (the claims of a launch, the token grant, the check of a
deep-linking response) and speaks real HTTP from a thread: it signs id_tokens and access tokens
with an RSA key of its own, publishes it as a JWKS, fetches the tool's JWKS over HTTP to verify
the tool's client assertions and deep-linking responses, and serves AGS 2.0 (line items, scores,
results) and NRPS 2.0 (a paginated roster). Where lti1p3platform stops short of the specs or of
what a real LMS checks, this module checks it itself (each place says why).

It serves with the standard library alone: the Django settings of the test process are the
tool's. It binds and dials loopback only.
"""

from __future__ import annotations

import html
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from html.parser import HTMLParser
from http.cookiejar import Cookie, DefaultCookiePolicy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeGuard
from urllib.parse import parse_qs, quote, unquote, urlencode, urljoin, urlsplit

import jwt
import requests
from jwcrypto.jwk import JWK
from lti1p3platform.exceptions import (
    InvalidKeySetUrl,
    LtiDeepLinkingResponseException,
    LtiException,
    MissingRequiredClaim,
    UnsupportedGrantType,
)
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_RESULT_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_DEPLOYMENT = CLAIM + "deployment_id"
CLAIM_MESSAGE_TYPE = CLAIM + "message_type"
CLAIM_VERSION = CLAIM + "version"
CLAIM_TOOL_PLATFORM = CLAIM + "tool_platform"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
CLAIM_DL_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"

MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
NRPS_PAGE_SIZE = 2  # small, so that any roster of three proves the tool follows "next"
HTTP_TIMEOUT = 15  # the tool's JWKS: its first request may make its key
BROWSER_TIMEOUT = 30  # a browser waits on a tool under test as long as the tests do

# A line item as AGS 2.0 writes it: id (its URL), scoreMaximum, label, resourceId, tag,
# resourceLinkId, and whatever else the tool sent (startDateTime...).
LineItem = dict[str, Any]


@dataclass
class Member:
    user_id: str
    name: str
    email: str
    roles: list[str]  # full LIS role URIs


@dataclass
class ResourceLink:
    id: str
    title: str
    custom: dict[str, str] = field(default_factory=dict)
    lineitem: str | None = None  # the URL of the line item bound to it
    url: str | None = None  # the tool's URL, when a deep-linking response placed it


class LaunchFlowError(AssertionError):
    """browser_launch met something a browser would have stopped at (the answer is in it)."""


@dataclass(frozen=True)
class _Key:
    private_pem: str
    public_pem: str
    kid: str

    @classmethod
    def generate(cls) -> _Key:
        jwk = JWK.generate(kty="RSA", size=2048)
        return cls(
            private_pem=jwk.export_to_pem(private_key=True, password=None).decode(),
            public_pem=jwk.export_to_pem().decode(),
            kid=jwk.thumbprint(),
        )


@dataclass(frozen=True)
class _Hint:
    """What a lti_message_hint stands for; the hint itself is opaque to the tool."""

    user_id: str
    link_id: str | None
    deep_link: bool


@dataclass
class _Signing:
    key: _Key
    kid: str
    expires_in: int = 300
    issued_at: float | None = None
    aud: str | None = None
    extra_claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, text.encode(), headers=headers or {})


def _json(
    status: int, body: Any, media: str = "application/json", headers: dict[str, str] | None = None
) -> _Reply:
    return _Reply(status, json.dumps(body).encode(), media, headers or {})


def _page(title: str, body: str, status: int = 200) -> _Reply:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )
    return _Reply(
        status, document.encode(), "text/html; charset=utf-8", {"Cache-Control": "no-store"}
    )


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return f"{value:g}" if _number(value) else ("" if value is None else str(value))


def _audiences(claims: dict[str, Any]) -> list[Any]:
    aud = claims.get("aud")
    return aud if isinstance(aud, list) else [aud]


@dataclass
class _In:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes

    def form(self) -> dict[str, str]:
        if self.method == "GET":
            return self.query
        pairs = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in pairs.items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class _Forms(HTMLParser):
    """The forms of a page with their hidden inputs, read as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", "")})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][values["name"]] = values.get("value", "")


def _form_with(page: str, field_name: str) -> dict[str, str] | None:
    parser = _Forms()
    parser.feed(page)
    return next((form for form in parser.forms if field_name in form), None)


class _LoopbackIsSecure(DefaultCookiePolicy):
    """Browsers count http://localhost and http://127.0.0.1 as secure contexts and send them
    Secure cookies (the tool's SameSite=None state and session cookies); http.cookiejar sends
    those over HTTPS only, so a launch through requests would lose its state. Under this policy
    a Secure cookie from a loopback host is kept as one to send back over HTTP too."""

    def set_ok(self, cookie: Cookie, request: Any) -> bool:
        if not super().set_ok(cookie, request):
            return False
        if cookie.secure and urlsplit(request.get_full_url()).hostname in LOOPBACK:
            cookie.secure = False
        return True


def as_browser(session: requests.Session) -> requests.Session:
    """``session`` with a browser's cookie rule for loopback (see _LoopbackIsSecure), for the
    cookies it receives from now on. browser_launch applies it; a test that drives the login
    itself with requests needs it too."""
    if not isinstance(session.cookies.get_policy(), _LoopbackIsSecure):
        session.cookies.set_policy(_LoopbackIsSecure())
    return session


# --- lti1p3platform, adapted ------------------------------------------------------------------


class _LibraryRequest(Request):
    """The OIDC authentication request's parameters, as lti1p3platform reads them."""

    def build_metadata(self, request: Any) -> Any:
        return {
            "method": "GET",
            "form_data": {},
            "get_data": dict(request),
            "headers": {},
            "content_type": None,
            "path": "/auth",
            "json": None,
        }


class _Registration(Registration):
    """lti1p3platform signs every id_token with fresh iat/exp and its own key; tamper tests need
    a chosen clock, audience, key and claims, so the signing is done here."""

    def __init__(self, signing: _Signing) -> None:
        self.signing = signing

    def platform_encode_and_sign(
        self, payload: dict[str, Any], expiration: int | None = None
    ) -> str:
        signing = self.signing
        issued = int(time.time() if signing.issued_at is None else signing.issued_at)
        payload.update(iat=issued, exp=issued + signing.expires_in)
        if signing.aud is not None:
            payload.update(aud=signing.aud, azp=signing.aud)
        for name, value in signing.extra_claims.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(
            payload, signing.key.private_pem, algorithm="RS256", headers={"kid": signing.kid}
        )


class _PlatformConfig(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Any:
        return self._registration

    def fetch_public_key(self, key_set_url: str) -> Any:
        # The library's fetch uses the environment's proxies and takes any answer as the key
        # set; the test LMS dials loopback only, directly, and wants a 200 with JSON.
        if not _loopback(key_set_url):
            raise LtiException(f"the test LMS fetches no JWKS from {key_set_url}")
        try:
            with requests.Session() as http:
                http.trust_env = False
                resp = http.get(key_set_url, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise LtiException(f"the tool's JWKS at {key_set_url}: {exc}") from exc
        if resp.status_code != 200:
            raise LtiException(f"the tool's JWKS at {key_set_url} answered {resp.status_code}")
        try:
            return resp.json()
        except ValueError as exc:
            raise LtiException(f"the tool's JWKS at {key_set_url} is not JSON") from exc


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, str]:
        # The page is the platform's to render (TestPlatform._auth); only the signed data
        # comes back from the library.
        return {"id_token": launch_data["id_token"], "state": launch_data["state"]}

    def deep_linking_settings_complete(self, data: str) -> None:
        """lti1p3platform's deep_linking_settings: accept_types from a set (in no fixed order),
        an empty "text", "data" only as a dict, no accept_lineitem, and "embed" offered for
        resource links. Set as LTI-DL 2.0 writes them for a platform that makes line items."""
        claim = self._deep_linking_launch_data[CLAIM_DL_SETTINGS]
        claim["accept_types"] = sorted(claim["accept_types"])
        claim["accept_presentation_document_targets"] = ["iframe", "window"]
        claim["accept_multiple"] = True
        claim["accept_lineitem"] = True
        claim["data"] = data
        if not claim.get("text"):
            claim.pop("text", None)


# --- the platform -----------------------------------------------------------------------------


class TestPlatform:
    """The test LMS: one course (context) with its roster, resource links and gradebook."""

    __test__ = False  # a helper, not a pytest test class

    def __init__(
        self,
        tool_base: str,
        *,
        client_id: str = "kubelab-client",
        deployment_id: str = "deployment-1",
        context_id: str = "course-101",
        context_title: str = "Kubernetes 101",
    ) -> None:
        tool_base = tool_base.rstrip("/")
        if not _loopback(tool_base):
            raise ValueError(f"the test LMS talks to loopback tools only, not {tool_base}")
        self.tool_base = tool_base
        self.tool_login_url = tool_base + "/lms/login/"
        self.tool_launch_url = tool_base + "/lms/launch/"
        self.tool_jwks_url = tool_base + "/lms/jwks.json"
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.context_id = context_id
        self.context_title = context_title

        self.members: list[Member] = []
        self.links: dict[str, ResourceLink] = {}
        self.lineitems: dict[str, LineItem] = {}
        self.scores: list[dict[str, Any]] = []
        self.deep_link_returns: list[list[dict[str, Any]]] = []
        self.down = False
        self.token_requests = 0

        self._key = _Key.generate()
        # Signs forged tokens under the platform's kid, so the tool must find that the signature
        # does not match (not merely that the kid is unknown).
        self._foreign_key = _Key.generate()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._hints: dict[str, _Hint] = {}
        self._tokens: set[str] = set()
        self._jtis: set[str] = set()
        self._deep_link_data: set[str] = set()
        self._deep_link_nonces: set[str] = set()
        self._newest_score: dict[tuple[str, str], datetime] = {}
        self._last_auth_form: dict[str, str] | None = None
        self._url: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TestPlatform:
        if self._server is not None:
            return self
        platform = self

        class Handler(_Handler):
            pass

        Handler.platform = platform
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-lms"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> TestPlatform:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- its URLs -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the test LMS has no URL until start()")
        return self._url

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def auth_url(self) -> str:
        return self.url + "/auth"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks.json"

    @property
    def lineitems_url(self) -> str:
        return self.url + "/lineitems"

    @property
    def memberships_url(self) -> str:
        return self.url + "/memberships"

    @property
    def deep_link_return_url(self) -> str:
        return self.url + "/deep-link-return"

    @property
    def course_url(self) -> str:
        return f"{self.url}/course/{quote(self.context_id, safe='')}"

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (401), as when an LMS rotates them."""
        self._tokens.clear()

    def gradebook_url(self) -> str:
        return self.url + "/gradebook"

    # --- the course ---------------------------------------------------------------------------

    def add_member(self, user_id: str, name: str, roles: list[str], email: str = "") -> Member:
        member = Member(user_id=user_id, name=name, email=email, roles=list(roles))
        with self._lock:
            self.members = [m for m in self.members if m.user_id != user_id] + [member]
        return member

    def add_link(
        self,
        link_id: str,
        title: str,
        custom: dict[str, str] | None = None,
        line_item: dict[str, Any] | None = None,
    ) -> ResourceLink:
        link = ResourceLink(id=link_id, title=title, custom=dict(custom or {}))
        with self._lock:
            self.links[link_id] = link
            if line_item is not None:
                item = self._lineitem_make({"label": title, **line_item, "resourceLinkId": link_id})
                link.lineitem = item["id"]
        return link

    def _lineitem_make(self, fields: dict[str, Any]) -> LineItem:
        with self._lock:
            url = f"{self.lineitems_url}/{next(self._ids)}"
            item: LineItem = {key: value for key, value in fields.items() if value is not None}
            item["id"] = url
            self.lineitems[url] = item
        return item

    def _member(self, user_id: str) -> Member:
        with self._lock:
            found = next((m for m in self.members if m.user_id == user_id), None)
        if found is None:
            raise ValueError(f"{user_id!r} is not a member of {self.context_id}: add_member first")
        return found

    def _link(self, link_id: str | None) -> ResourceLink:
        with self._lock:
            if link_id is None:
                if not self.links:
                    raise ValueError("the course has no resource link: add_link first")
                return next(iter(self.links.values()))
            if link_id not in self.links:
                raise ValueError(f"no resource link {link_id!r} in {self.context_id}")
            return self.links[link_id]

    # --- launches -----------------------------------------------------------------------------

    def login_initiation_url(
        self, user_id: str, link_id: str | None = None, *, deep_link: bool = False
    ) -> str:
        if not deep_link:
            link_id = self._link(link_id).id
        hint = secrets.token_urlsafe(16)
        with self._lock:
            self._hints[hint] = _Hint(user_id, None if deep_link else link_id, deep_link)
        query = urlencode(
            {
                "iss": self.issuer,
                "login_hint": user_id,
                "target_link_uri": self.tool_launch_url,
                "lti_message_hint": hint,
                "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id,
            }
        )
        return f"{self.tool_login_url}?{query}"

    def page_url(self, user_id: str, link_id: str | None = None, *, deep_link: bool = False) -> str:
        if deep_link:
            return f"{self.course_url}/deep-link?{urlencode({'user': user_id})}"
        link = self._link(link_id)
        return f"{self.course_url}/link/{quote(link.id, safe='')}?{urlencode({'user': user_id})}"

    def id_token(
        self,
        *,
        user_id: str,
        nonce: str,
        link_id: str | None = None,
        deep_link: bool = False,
        aud: str | None = None,
        expires_in: int = 300,
        issued_at: float | None = None,
        sign_with_foreign_key: bool = False,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A launch id_token as /auth signs it. ``extra_claims`` are set last; a claim given as
        None is left out (a launch without its deployment id, say)."""
        signing = _Signing(
            key=self._foreign_key if sign_with_foreign_key else self._key,
            kid=self._key.kid,
            expires_in=expires_in,
            issued_at=issued_at,
            aud=aud,
            extra_claims=dict(extra_claims or {}),
        )
        launch = self._launch_signed(
            member=self._member(user_id),
            link=None if deep_link else self._link(link_id),
            nonce=nonce,
            state="direct",
            signing=signing,
        )
        return launch["id_token"]

    def _launch_signed(
        self,
        *,
        member: Member,
        link: ResourceLink | None,
        nonce: str,
        state: str,
        signing: _Signing,
    ) -> dict[str, str]:
        """The id_token and state of a launch of ``link``, or a deep-linking launch when None."""
        request = _LibraryRequest(
            {
                "nonce": nonce,
                "state": state,
                "redirect_uri": self.tool_launch_url,
                "client_id": self.client_id,
            }
        )
        launch = _Launch(request, self._config(signing))
        launch.set_user_data(
            member.user_id,
            list(member.roles),
            full_name=member.name or None,
            email_address=member.email or None,
        )
        launch.set_launch_context_claim(
            self.context_id,
            context_types=[COURSE_OFFERING],
            context_title=self.context_title,
            context_label=self.context_id,
        )
        launch.set_launch_presentation_claim(document_target="iframe", return_url=self.course_url)
        launch.set_nrps(self.memberships_url)
        launch.set_extra_claims({CLAIM_TOOL_PLATFORM: {"guid": "test-lms", "name": "Test LMS"}})
        if link is None:
            data = "dl-" + secrets.token_urlsafe(16)
            with self._lock:
                self._deep_link_data.add(data)
            launch.set_dl(
                deep_link_return_url=self.deep_link_return_url,
                title=f"Add an activity to {self.context_title}",
                accept_types={"ltiResourceLink"},
            )
            launch.deep_linking_settings_complete(data)
            launch.set_ags(self.lineitems_url)
        else:
            launch.set_resource_link_claim(link.id, title=link.title)
            launch.set_custom_parameters_claim(dict(link.custom))
            launch.set_ags(self.lineitems_url, link.lineitem)
        signed: dict[str, str] = launch.lti_launch()
        return signed

    def _signing(self) -> _Signing:
        return _Signing(key=self._key, kid=self._key.kid)

    def _config(self, signing: _Signing | None = None) -> _PlatformConfig:
        # A fresh registration per request: lti1p3platform caches the tool's JWKS on it, and a
        # real platform would see the tool's key rotation within the tests' lifetime.
        registration = _Registration(signing or self._signing())
        registration.set_iss(self.issuer)
        registration.set_client_id(self.client_id)
        registration.set_deployment_id(self.deployment_id)
        registration.set_launch_url(self.tool_launch_url)
        # Without it, lti1p3platform quietly signs a deep-linking launch as a resource link
        # request.
        registration.set_deeplink_launch_url(self.tool_launch_url)
        registration.set_oidc_login_url(self.tool_login_url)
        registration.set_platform_public_key(self._key.public_pem)
        registration.set_platform_private_key(self._key.private_pem)
        registration.set_tool_key_set_url(self.tool_jwks_url)
        return _PlatformConfig(registration=registration)

    def last_auth_form(self) -> dict[str, str]:
        with self._lock:
            if self._last_auth_form is None:
                raise LookupError("the test LMS has answered no authentication request yet")
            return dict(self._last_auth_form)

    # --- as a browser -------------------------------------------------------------------------

    def browser_launch(
        self,
        session: requests.Session,
        user_id: str,
        link_id: str | None = None,
        *,
        deep_link: bool = False,
    ) -> requests.Response:
        """The launch as the browser makes it, ``session`` its cookie jar; returns the tool's
        answer to the launch POST, redirects not followed."""
        as_browser(session)
        login_url = self.login_initiation_url(user_id, link_id, deep_link=deep_link)
        answer = session.get(login_url, allow_redirects=False, timeout=BROWSER_TIMEOUT)
        if answer.status_code == 200:
            # The tool's cookie check: the pop-out window asks again as a first party.
            answer = session.get(
                login_url + "&lti1p3_new_window=1", allow_redirects=False, timeout=BROWSER_TIMEOUT
            )
        location = urljoin(login_url, answer.headers.get("Location", ""))
        if answer.status_code != 302 or location.split("?")[0] != self.auth_url:
            raise LaunchFlowError(
                f"the tool's login answered {answer.status_code} (Location {location!r}), not "
                f"a redirect to {self.auth_url}: {answer.text[:500]}"
            )
        page = session.get(location, allow_redirects=False, timeout=BROWSER_TIMEOUT)
        form = _form_with(page.text, "id_token") if page.status_code == 200 else None
        if form is None:
            raise LaunchFlowError(
                f"the test LMS refused the authentication request ({page.status_code}): "
                f"{page.text[:500]}"
            )
        if not _loopback(form["action"]):
            raise LaunchFlowError(f"the launch form posts to {form['action']}")
        answer = session.post(
            form["action"],
            data={"id_token": form["id_token"], "state": form["state"]},
            allow_redirects=False,
            timeout=BROWSER_TIMEOUT,
        )
        return answer

    def submit_deep_link_form(self, session: requests.Session, html_page: str) -> requests.Response:
        """Post the tool's auto-posting deep-linking answer (its JWT) to the test LMS."""
        form = _form_with(html_page, "JWT")
        if form is None:
            raise LaunchFlowError(f"no form with a JWT field in the page: {html_page[:500]}")
        action = urljoin(self.tool_base + "/", form["action"])
        if not action.startswith(self.url + "/"):
            raise LaunchFlowError(f"the deep-linking form posts to {action}, not to the test LMS")
        return session.post(action, data={"JWT": form["JWT"]}, timeout=BROWSER_TIMEOUT)

    # --- HTTP ---------------------------------------------------------------------------------

    def _route(self, req: _In) -> _Reply:
        path, method = req.path, req.method
        parts = [part for part in path.split("/") if part]
        if path == "/jwks.json" and method == "GET":
            return _json(200, {"keys": [Registration.get_jwk(self._key.public_pem)]})
        if path == "/auth" and method in ("GET", "POST"):
            return self._auth(req)
        if path == "/token" and method == "POST":
            return self._token(req)
        if parts[:1] == ["lineitems"]:
            return self._ags(req, parts[1:])
        if path == "/memberships" and method == "GET":
            return self._memberships(req)
        if path == "/deep-link-return" and method == "POST":
            return self._deep_link_return(req)
        if parts[:1] == ["course"] and method == "GET":
            return self._course_page(req, parts[1:])
        if path == "/gradebook" and method == "GET":
            return self._gradebook()
        return _text(404, f"the test LMS has no {method} {path}")

    def _auth(self, req: _In) -> _Reply:
        params = req.form()
        with self._lock:
            hint = self._hints.get(params.get("lti_message_hint", ""))
            known_user = any(m.user_id == params.get("login_hint") for m in self.members)
        problems = [
            (
                "openid" not in params.get("scope", "").split(),
                f"scope must include openid, not {params.get('scope')!r}",
            ),
            (
                params.get("response_type") != "id_token",
                f"response_type must be id_token, not {params.get('response_type')!r}",
            ),
            (
                params.get("response_mode") != "form_post",
                f"response_mode must be form_post, not {params.get('response_mode')!r}",
            ),
            (
                params.get("prompt") != "none",
                f"prompt must be none, not {params.get('prompt')!r}",
            ),
            (
                params.get("client_id") != self.client_id,
                f"unknown client_id {params.get('client_id')!r}",
            ),
            (
                params.get("redirect_uri") != self.tool_launch_url,
                f"redirect_uri {params.get('redirect_uri')!r} is not the registered "
                f"{self.tool_launch_url}",
            ),
            (not params.get("nonce"), "no nonce"),
            (not params.get("state"), "no state"),
            (not known_user, f"login_hint {params.get('login_hint')!r} is no member"),
            (hint is None, "lti_message_hint missing or not issued by the test LMS"),
            (
                hint is not None and hint.user_id != params.get("login_hint"),
                "lti_message_hint was issued for another user",
            ),
        ]
        reasons = [reason for failed, reason in problems if failed]
        if reasons or hint is None:
            return _text(400, "invalid authentication request: " + "; ".join(reasons))
        signed = self._launch_signed(
            member=self._member(hint.user_id),
            link=None if hint.deep_link else self._link(hint.link_id),
            nonce=params["nonce"],
            state=params["state"],
            signing=self._signing(),
        )
        form = {"action": params["redirect_uri"], **signed}
        with self._lock:
            self._last_auth_form = form
        body = (
            f'<form id="launch" method="post" action="{html.escape(form["action"])}">'
            f'<input type="hidden" name="id_token" value="{html.escape(form["id_token"])}">'
            f'<input type="hidden" name="state" value="{html.escape(form["state"])}">'
            '<noscript><button type="submit">Continue</button></noscript></form>'
            '<script>document.getElementById("launch").submit();</script>'
        )
        return _page("Launching…", body)

    def _token(self, req: _In) -> _Reply:
        if self.down:
            return _text(503, "the test LMS is down")
        form = req.form()

        def refused(error: str, why: str) -> _Reply:
            return _json(400, {"error": error, "error_description": why})

        try:
            granted = self._config().get_access_token(form)
        except MissingRequiredClaim as exc:
            return refused("invalid_request", str(exc))
        except UnsupportedGrantType:
            return refused("unsupported_grant_type", f"{form.get('grant_type')!r}")
        except (LtiException, InvalidKeySetUrl, jwt.PyJWTError, ValueError, KeyError) as exc:
            return refused("invalid_client", f"{type(exc).__name__}: {exc}")
        # lti1p3platform has checked the signature (and exp when present) and nothing else:
        # not the audience, the client, that exp is there at all, nor that the jti is fresh.
        claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
        now = time.time()
        problems = [
            (form.get("client_assertion_type") != JWT_BEARER, "client_assertion_type"),
            (self.token_url not in _audiences(claims), f"aud {claims.get('aud')!r}"),
            (claims.get("iss") != self.client_id, f"iss {claims.get('iss')!r}"),
            (claims.get("sub") != self.client_id, f"sub {claims.get('sub')!r}"),
            (not _number(claims.get("exp")) or claims["exp"] <= now, "exp missing or past"),
            (not _number(claims.get("iat")), "iat missing"),
            (not claims.get("jti"), "jti missing"),
        ]
        reasons = [reason for failed, reason in problems if failed]
        if reasons:
            return refused("invalid_client", "client assertion: " + ", ".join(reasons))
        if not granted["scope"]:
            return refused("invalid_scope", f"none of {form.get('scope')!r} is offered")
        with self._lock:
            if claims["jti"] in self._jtis:
                return refused("invalid_grant", f"jti {claims['jti']!r} was used before")
            self._jtis.add(claims["jti"])
            self._tokens.add(granted["access_token"])
            self.token_requests += 1
        return _json(200, dict(granted), headers={"Cache-Control": "no-store"})

    def _authorized(self, req: _In, scopes: list[str]) -> _Reply | None:
        """None when the request's bearer token was issued here with one of ``scopes``."""
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _text(401, "no bearer token", {"WWW-Authenticate": 'Bearer realm="test-lms"'})
        token = token.strip()
        with self._lock:
            issued = token in self._tokens
        try:
            allowed = issued and self._config().validate_token(token, allowed_scopes=scopes)
        except (LtiException, jwt.PyJWTError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return _text(401, reason, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if not issued:
            return _text(
                401, "token not issued here", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if not allowed:
            return _text(
                403,
                f"the token has none of the scopes {scopes}",
                {"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )
        return None

    # --- AGS ----------------------------------------------------------------------------------

    def _ags(self, req: _In, rest: list[str]) -> _Reply:
        if self.down:
            return _text(503, "the test LMS is down")
        method = req.method
        if not rest:
            if method == "GET":
                return self._authorized(req, [SCOPE_LINEITEM, SCOPE_LINEITEM_READ]) or (
                    self._lineitems_list(req)
                )
            if method == "POST":
                return self._authorized(req, [SCOPE_LINEITEM]) or self._lineitem_create(req)
            return _text(405, "GET or POST")
        item_url = f"{self.lineitems_url}/{rest[0]}"
        with self._lock:
            item = dict(self.lineitems[item_url]) if item_url in self.lineitems else None
        tail = rest[1:]
        if tail == ["scores"] and method == "POST":
            return self._authorized(req, [SCOPE_SCORE]) or self._score(req, item_url, item)
        if tail == ["results"] and method == "GET":
            return self._authorized(req, [SCOPE_RESULT_READ]) or self._results(req, item)
        if tail:
            return _text(404, f"the test LMS has no {method} {req.path}")
        if method == "GET":
            return self._authorized(req, [SCOPE_LINEITEM, SCOPE_LINEITEM_READ]) or (
                _json(200, item, MEDIA_LINEITEM) if item else _text(404, "no such line item")
            )
        if method in ("PUT", "DELETE"):
            return self._authorized(req, [SCOPE_LINEITEM]) or self._lineitem_change(
                req, item_url, item
            )
        return _text(405, "GET, PUT or DELETE")

    def _lineitems_list(self, req: _In) -> _Reply:
        filters = {
            "resourceLinkId": req.query.get("resource_link_id"),
            "resourceId": req.query.get("resource_id"),
            "tag": req.query.get("tag"),
        }
        with self._lock:
            items = [
                dict(item)
                for item in self.lineitems.values()
                if all(want is None or item.get(key) == want for key, want in filters.items())
            ]
        return _json(200, items, MEDIA_LINEITEMS)

    def _lineitem_fields(self, req: _In) -> dict[str, Any] | str:
        """The line item a request body describes, or why it is refused."""
        if req.headers.get_content_type() != MEDIA_LINEITEM:
            return f"Content-Type must be {MEDIA_LINEITEM}"
        try:
            body = req.json()
        except ValueError:
            return "the body is not JSON"
        if not isinstance(body, dict):
            return "the body is not a line item object"
        if not _number(body.get("scoreMaximum")) or body["scoreMaximum"] <= 0:
            return "scoreMaximum must be a number above 0"
        if not isinstance(body.get("label"), str) or not body["label"].strip():
            return "label is required"
        link_id = body.get("resourceLinkId")
        with self._lock:
            if link_id is not None and link_id not in self.links:
                return f"resourceLinkId {link_id!r} is no resource link of this course"
        return {key: value for key, value in body.items() if key != "id"}

    def _lineitem_create(self, req: _In) -> _Reply:
        fields = self._lineitem_fields(req)
        if isinstance(fields, str):
            return _text(415 if fields.startswith("Content-Type") else 400, fields)
        return _json(201, self._lineitem_make(fields), MEDIA_LINEITEM)

    def _lineitem_change(self, req: _In, item_url: str, item: LineItem | None) -> _Reply:
        if item is None:
            return _text(404, "no such line item")
        if req.method == "DELETE":
            with self._lock:
                self.lineitems.pop(item_url, None)
                for link in self.links.values():
                    if link.lineitem == item_url:
                        link.lineitem = None
            return _Reply(204)
        fields = self._lineitem_fields(req)
        if isinstance(fields, str):
            return _text(415 if fields.startswith("Content-Type") else 400, fields)
        # The binding to a resource link is the platform's; an update keeps it.
        fields["resourceLinkId"] = item.get("resourceLinkId")
        updated = {k: v for k, v in fields.items() if v is not None} | {"id": item_url}
        with self._lock:
            self.lineitems[item_url] = updated
        return _json(200, updated, MEDIA_LINEITEM)

    def _score(self, req: _In, item_url: str, item: LineItem | None) -> _Reply:
        if item is None:
            return _text(404, "no such line item")
        if req.headers.get_content_type() != MEDIA_SCORE:
            return _text(415, f"Content-Type must be {MEDIA_SCORE}")
        try:
            score = req.json()
        except ValueError:
            return _text(400, "the body is not JSON")
        if not isinstance(score, dict):
            return _text(400, "the body is not a score object")
        user_id = score.get("userId")
        given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
        try:
            stamp = datetime.fromisoformat(str(score.get("timestamp")))
        except ValueError:
            stamp = None
        with self._lock:
            known_user = any(m.user_id == user_id for m in self.members)
        problems = [
            (not isinstance(user_id, str) or not user_id, "userId is required"),
            (not known_user, f"userId {user_id!r} is no member of this course"),
            (
                score.get("activityProgress") not in ACTIVITY_PROGRESS,
                f"activityProgress {score.get('activityProgress')!r}",
            ),
            (
                score.get("gradingProgress") not in GRADING_PROGRESS,
                f"gradingProgress {score.get('gradingProgress')!r}",
            ),
            (
                stamp is None or stamp.tzinfo is None,
                f"timestamp {score.get('timestamp')!r} is no ISO 8601 time with its zone",
            ),
            (
                score.get("gradingProgress") == "FullyGraded" and given is None,
                "a FullyGraded score needs scoreGiven",
            ),
            (
                given is not None and (not _number(given) or given < 0),
                "scoreGiven must be a number from 0",
            ),
            (
                given is not None and (not _number(maximum) or maximum <= 0),
                "scoreGiven needs a scoreMaximum above 0",
            ),
            (
                _number(given) and _number(maximum) and given > maximum,
                f"scoreGiven {given} is above scoreMaximum {maximum}",
            ),
        ]
        reasons = [reason for failed, reason in problems if failed]
        if reasons or stamp is None:
            return _text(400, "invalid score: " + "; ".join(reasons))
        key = (str(user_id), item_url)
        with self._lock:
            newest = self._newest_score.get(key)
            # AGS 2.0: a score older than the one on record is ignored, and not an error.
            if newest is None or stamp >= newest:
                self._newest_score[key] = stamp
                self.scores.append({**score, "lineitem": item_url})
        return _json(200, {"resultUrl": f"{item_url}/results?user_id={quote(str(user_id))}"})

    def _results(self, req: _In, item: LineItem | None) -> _Reply:
        if item is None:
            return _text(404, "no such line item")
        wanted = req.query.get("user_id")
        latest: dict[str, dict[str, Any]] = {}
        with self._lock:
            for score in self.scores:
                if score["lineitem"] == item["id"]:
                    latest[score["userId"]] = score
        results = []
        for user_id, score in latest.items():
            if wanted is not None and user_id != wanted:
                continue
            result: dict[str, Any] = {
                "id": f"{item['id']}/results/{quote(user_id, safe='')}",
                "scoreOf": item["id"],
                "userId": user_id,
                "resultMaximum": item["scoreMaximum"],
            }
            if _number(score.get("scoreGiven")):
                # Results are on the line item's scale, whatever the tool's scoreMaximum was.
                result["resultScore"] = (
                    score["scoreGiven"] / score["scoreMaximum"] * item["scoreMaximum"]
                )
            if score.get("comment"):
                result["comment"] = score["comment"]
            results.append(result)
        return _json(200, results, MEDIA_RESULTS)

    # --- NRPS ---------------------------------------------------------------------------------

    def _memberships(self, req: _In) -> _Reply:
        if self.down:
            return _text(503, "the test LMS is down")
        refused = self._authorized(req, [SCOPE_NRPS])
        if refused:
            return refused
        if MEDIA_MEMBERSHIPS not in (req.headers.get("Accept") or ""):
            return _text(406, f"Accept must be {MEDIA_MEMBERSHIPS}")
        try:
            page = int(req.query.get("page", "1"))
            size = int(req.query.get("limit", str(NRPS_PAGE_SIZE)))
        except ValueError:
            return _text(400, "page and limit are numbers")
        if page < 1 or size < 1:
            return _text(400, "page and limit start at 1")
        with self._lock:
            roster = list(self.members)
        start = (page - 1) * size
        members = []
        for member in roster[start : start + size]:
            entry: dict[str, Any] = {
                "user_id": member.user_id,
                "name": member.name,
                "roles": list(member.roles),
                "status": "Active",
            }
            if member.email:
                entry["email"] = member.email
            members.append(entry)
        headers = {}
        if start + size < len(roster):
            query = {"page": page + 1} | ({"limit": size} if "limit" in req.query else {})
            headers["Link"] = f'<{self.memberships_url}?{urlencode(query)}>; rel="next"'
        body = {
            "id": self.url + req.path + (f"?{urlencode(req.query)}" if req.query else ""),
            "context": {
                "id": self.context_id,
                "label": self.context_id,
                "title": self.context_title,
            },
            "members": members,
        }
        return _json(200, body, MEDIA_MEMBERSHIPS, headers)

    # --- deep linking -------------------------------------------------------------------------

    def _deep_link_return(self, req: _In) -> _Reply:
        token = req.form().get("JWT", "")
        if not token:
            return _text(400, "no JWT field in the deep-linking response")
        config = self._config()
        config.set_accepted_deeplinking_types(["ltiResourceLink"])
        try:
            items = config.validate_deeplinking_resp({"JWT": token})
        except (
            LtiException,
            LtiDeepLinkingResponseException,
            InvalidKeySetUrl,
            jwt.PyJWTError,
            KeyError,
            TypeError,
        ) as exc:
            return _text(400, f"deep-linking response refused: {type(exc).__name__}: {exc}")
        # lti1p3platform checks the signature, the message type and the item types; who sent
        # it, to whom, for which deployment and which request is checked here.
        claims = jwt.decode(token, options={"verify_signature": False})
        nonce = str(claims.get("nonce") or "")
        with self._lock:
            data_known = claims.get(CLAIM_DL_DATA) in self._deep_link_data
        problems = [
            (self.issuer not in _audiences(claims), f"aud {claims.get('aud')!r}"),
            (claims.get("iss") != self.client_id, f"iss {claims.get('iss')!r}"),
            (
                claims.get(CLAIM_DEPLOYMENT) != self.deployment_id,
                f"deployment_id {claims.get(CLAIM_DEPLOYMENT)!r}",
            ),
            (claims.get(CLAIM_VERSION) != "1.3.0", f"version {claims.get(CLAIM_VERSION)!r}"),
            (not _number(claims.get("exp")), "exp missing"),
            (not _number(claims.get("iat")), "iat missing"),
            (not nonce, "nonce missing"),
            (not data_known, f"data {claims.get(CLAIM_DL_DATA)!r} echoes no request of ours"),
            (
                not isinstance(items, list) or not all(isinstance(i, dict) for i in items),
                "content_items is not a list of objects",
            ),
        ]
        reasons = [reason for failed, reason in problems if failed]
        if not reasons:
            reasons = [
                f"item {n}: lineItem.scoreMaximum must be a number above 0"
                for n, item in enumerate(items)
                if isinstance(item.get("lineItem"), dict)
                and not (
                    _number(item["lineItem"].get("scoreMaximum"))
                    and item["lineItem"]["scoreMaximum"] > 0
                )
            ] + [
                f"item {n}: custom must be an object of strings"
                for n, item in enumerate(items)
                if not isinstance(item.get("custom", {}), dict)
            ]
        if reasons:
            return _text(400, "deep-linking response refused: " + "; ".join(reasons))
        created = []
        with self._lock:
            # A deep-linking response is used once: posted again (a reload, a replay) it would
            # place the same activities twice.
            if nonce in self._deep_link_nonces:
                return _text(400, "deep-linking response refused: it was posted before")
            self._deep_link_nonces.add(nonce)
            for item in items:
                link = self.add_link(
                    f"dl-{next(self._ids)}",
                    str(item.get("title") or "Untitled activity"),
                    {str(k): str(v) for k, v in (item.get("custom") or {}).items()},
                )
                link.url = item.get("url")
                line_item = item.get("lineItem")
                if isinstance(line_item, dict):
                    made = self._lineitem_make(
                        {
                            "scoreMaximum": line_item["scoreMaximum"],
                            "label": line_item.get("label") or link.title,
                            "resourceId": line_item.get("resourceId"),
                            "tag": line_item.get("tag"),
                            "resourceLinkId": link.id,
                        }
                    )
                    link.lineitem = made["id"]
                created.append(link)
            self.deep_link_returns.append(list(items))
        rows = "".join(
            f'<li data-link-id="{html.escape(link.id)}">{html.escape(link.id)}: '
            f"{html.escape(link.title)}</li>"
            for link in created
        )
        return _page(
            "Activities added",
            f'<h1>Added to {html.escape(self.context_title)}</h1><ul id="links">{rows}</ul>',
        )

    # --- pages --------------------------------------------------------------------------------

    def _course_page(self, req: _In, rest: list[str]) -> _Reply:
        if rest[:1] != [quote(self.context_id, safe="")] and rest[:1] != [self.context_id]:
            return _text(404, "no such course")
        user_id = req.query.get("user", "")
        title = html.escape(self.context_title)
        if len(rest) == 1:
            with self._lock:
                links = list(self.links.values())
            rows = "".join(
                f'<li data-link-id="{html.escape(link.id)}">{html.escape(link.title)}</li>'
                for link in links
            )
            return _page(self.context_title, f'<h1>{title}</h1><ul id="links">{rows}</ul>')
        try:
            if rest[1:] == ["deep-link"]:
                src = self.login_initiation_url(user_id, deep_link=True)
            elif len(rest) == 3 and rest[1] == "link":
                src = self.login_initiation_url(user_id, unquote(rest[2]))
            else:
                return _text(404, "no such page")
        except ValueError as exc:
            return _text(404, str(exc))
        frame = (
            f'<iframe id="tool" src="{html.escape(src)}" allow="clipboard-write" '
            'style="width:100%;height:900px" title="kubelab"></iframe>'
        )
        return _page(self.context_title, f"<h1>{title}</h1>{frame}")

    def _gradebook(self) -> _Reply:
        with self._lock:
            scores = list(self.scores)
            labels = {url: str(item.get("label", "")) for url, item in self.lineitems.items()}
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(cell)}</td>"
                for cell in (
                    str(score.get("userId", "")),
                    labels.get(score["lineitem"], ""),
                    _shown(score.get("scoreGiven")),
                    _shown(score.get("scoreMaximum")),
                )
            )
            + "</tr>"
            for score in scores
        )
        table = (
            '<table id="grades"><thead><tr><th>user_id</th><th>line item</th>'
            f"<th>scoreGiven</th><th>scoreMaximum</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        return _page("Gradebook", f"<h1>Gradebook: {html.escape(self.context_title)}</h1>{table}")


class _Handler(BaseHTTPRequestHandler):
    platform: TestPlatform
    server_version = "TestLMS/1.0"

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = _In(method, parts.path, query, self.headers, body)
        try:
            reply = self.platform._route(req)
        except Exception as exc:
            # A fault of the test LMS itself: the test sees it in the answer, not as a hang.
            reply = _text(500, f"the test LMS failed: {type(exc).__name__}: {exc}")
        self.send_response(reply.status)
        if reply.body or reply.status not in (204, 304):
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests' output is the tool's; the test LMS's requests are in its attributes
