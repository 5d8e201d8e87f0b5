"""The one gateway to the LTI 1.3 libraries (pylti1p3 for the protocol, django-lti's lti_tool for
its tables): OIDC login, launch validation, the deep-linking answer, scores (AGS) and rosters
(NRPS). Everything else in kubelab calls these functions and catches LaunchRefused,
LmsUnavailable and LmsRefused, so a swap to a fork (pylti1p3next) or vendored code touches this
module alone. Nothing here decides what kubelab does with a launch (lms.launches does)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Final, cast
from urllib.parse import urlsplit

import requests
from django.core.cache import cache
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from jwcrypto.jwk import JWK
from lti_tool.models import Key, LtiRegistration
from lti_tool.models import LtiLaunch as LibraryLaunch
from lti_tool.utils import DjangoToolConfig, sync_data_from_launch
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector

logger = logging.getLogger(__name__)

# Every call to an LMS is bounded: a platform that hangs must not hold a web request or a
# worker (pylti1p3 itself sets no timeout).
HTTP_TIMEOUT = (5, 20)
NONCE_SECONDS = 3600  # longer than any id_token lives (platforms sign for minutes)
AGS_SCORE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_LINEITEM: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_LINEITEM_READ: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
MAX_ROSTER_PAGES = 500
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class LaunchRefused(Exception):
    """A login or launch that is not a valid LTI 1.3 message from a registered platform."""


class LmsUnavailable(Exception):
    """The LMS did not answer, or answered that it could not now: try again later."""


class LmsRefused(Exception):
    """The LMS answered that it will not take this: trying again changes nothing."""


class _TimedSession(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


def _http() -> requests.Session:
    session = _TimedSession()
    session.headers["User-Agent"] = "kubelab-lti"
    return session


class _Request(DjangoRequest):
    """Browsers treat http://localhost as a secure context, so the launch's cookies may be
    SameSite=None; Secure there too (a local kubelab framed by a local LMS); elsewhere only
    HTTPS is."""

    def is_secure(self) -> bool:
        request = self._request
        return request is not None and secure_context(request)


def secure_context(request: HttpRequest) -> bool:
    if request.is_secure():
        return True
    return urlsplit(f"//{request.get_host()}").hostname in LOOPBACK


# --- keys ---------------------------------------------------------------------------------


def tool_key_ensure() -> None:
    """kubelab signs with its newest active key; the first login or JWKS request makes one."""
    if not Key.objects.active().exists():
        Key.objects.generate()


def tool_jwks() -> dict[str, Any]:
    tool_key_ensure()
    return {"keys": [_public_jwk(key) for key in Key.objects.active()]}


def _public_jwk(key: Key) -> dict[str, Any]:
    jwk = JWK.from_pem(key.public_key.encode())
    public: dict[str, Any] = json.loads(jwk.export_public())
    public.setdefault("kid", jwk.thumbprint())
    public.update(alg="RS256", use="sig")
    return public


def keys_rotate(*, keep_days: int = 7) -> int:
    """A new signing key; keys older than ``keep_days`` leave the JWKS (platforms cache it, so
    the old one stays published a while). Returns how many keys were retired."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    with transaction.atomic():
        Key.objects.generate()
        cutoff = timezone.now() - timedelta(days=keep_days)
        return int(Key.objects.active().filter(datetime_created__lt=cutoff).update(is_active=False))


# --- login and launch -------------------------------------------------------------------


def login_registration(params: Any) -> LtiRegistration | None:
    """The active registration an OIDC login initiation names (iss, and client_id if sent)."""
    iss = params.get("iss") or ""
    lookups: dict[str, str] = {"issuer": iss}
    if params.get("client_id"):
        lookups["client_id"] = params["client_id"]
    found = LtiRegistration.objects.active().filter(**lookups)
    return found.first() if found.count() == 1 else None


def login_redirect(request: HttpRequest, launch_url: str) -> HttpResponse:
    """The OIDC authentication request to the platform (a redirect that sets the state
    cookie). ``launch_url`` is always kubelab's own launch URL, never the target_link_uri a
    caller sends, so the login cannot be used to send a browser elsewhere."""
    tool_key_ensure()
    login = DjangoOIDCLogin(
        _Request(request), DjangoToolConfig(), launch_data_storage=DjangoCacheDataStorage()
    )
    try:
        return cast(HttpResponse, login.redirect(launch_url))
    except LtiException as exc:
        raise LaunchRefused(str(exc)) from None


@dataclass(frozen=True)
class Launch:
    """A validated launch: its claims, and django-lti's rows for it (synchronised)."""

    launch_id: str
    library: LibraryLaunch
    claims: dict[str, Any]

    @property
    def registration(self) -> LtiRegistration:
        return self.library.registration

    def claim(self, name: str) -> Any:
        return self.claims.get(f"https://purl.imsglobal.org/spec/lti/claim/{name}")


def launch_validate(request: HttpRequest) -> Launch:
    """Check a launch POST (state, signature by the platform's JWKS, iss, aud, exp, nonce,
    deployment, message) and record its user, context, membership and link."""
    try:
        message = DjangoMessageLaunch(
            _Request(request, post_only=True),
            DjangoToolConfig(),
            launch_data_storage=DjangoCacheDataStorage(),
            requests_session=_http(),
        )
        message.set_public_key_caching(DjangoCacheDataStorage(), cache_lifetime=600)
        message.validate()
    except (LtiException, requests.RequestException, KeyError, ValueError) as exc:
        raise LaunchRefused(_launch_reason(exc)) from None
    claims: dict[str, Any] = dict(message.get_launch_data())
    # pylti1p3 checks that the nonce was issued, not that it is used once: a captured launch
    # could be posted again. The first use claims it (SET NX), every later one is refused.
    if not cache.add(f"lms:nonce-used:{claims.get('nonce')}", 1, NONCE_SECONDS):
        raise LaunchRefused("this launch was already used (its nonce has been seen)")
    library = LibraryLaunch(message)
    if not library.deployment.is_active:
        raise LaunchRefused(
            f"the deployment {library.deployment.deployment_id} of this platform is not "
            "enabled in kubelab; an administrator enables it in the LTI registration"
        )
    try:
        sync_data_from_launch(library)
    except DataError as exc:  # a claim longer than django-lti's columns (a 600-character name)
        raise LaunchRefused(f"the LMS sent a value kubelab cannot keep: {exc}"[:300]) from None
    return Launch(library.get_launch_id(), library, claims)


def claimed_issuer(request: HttpRequest) -> str:
    """The issuer a launch's id_token names, unverified: only to let a registered platform
    frame the page that says why its launch was refused."""
    import base64

    token = str(request.POST.get("id_token") or "")
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return str(claims.get("iss") or "") if isinstance(claims, dict) else ""
    except (IndexError, ValueError):
        return ""


def _launch_reason(exc: Exception) -> str:
    text = str(exc).replace("%s ", "") or type(exc).__name__
    if "cookie" in text or text == "State not found":
        # The state lives in a cookie set at the login step: a browser that did not send it
        # back blocks third-party cookies (or the launch was posted from elsewhere).
        return (
            f"{text}. The browser did not send back the cookie kubelab set when the login "
            "started; open the activity in a new window"
        )
    return text


@dataclass(frozen=True)
class Placement:
    title: str
    target: str  # lms.targets, carried back as the custom parameter kubelab_target
    score_maximum: int  # 0: no gradebook column
    label: str


DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


def deep_link_answer(
    *, registration: LtiRegistration, deployment_id: str, settings: dict[str, Any],
    placements: list[Placement], launch_url: str,
) -> tuple[str, str]:  # fmt: skip
    """(return URL, signed JWT) of the deep-linking response that places ``placements`` in the
    LMS, each a resource link to ``launch_url`` with its target, and a line item if graded.
    ``settings``: the request's deep_linking_settings claim, kept in the instructor's session."""
    resources = []
    for placement in placements:
        resource = (
            DeepLinkResource()
            .set_url(launch_url)
            .set_title(placement.title)
            .set_custom_params({"kubelab_target": placement.target})
        )
        if placement.score_maximum > 0:
            resource.set_lineitem(
                LineItem()
                .set_score_maximum(placement.score_maximum)
                .set_label(placement.label)
                .set_resource_id(placement.target)
                .set_tag("kubelab")
            )
        resources.append(resource)
    return_url = str(settings.get("deep_link_return_url") or "")
    if not (return_url.startswith("https://") or service_url_valid(return_url)):
        raise LaunchRefused("the deep-linking request has no usable return URL")
    deep_link = DeepLink(registration.to_registration(), deployment_id, cast(Any, settings))
    return return_url, str(deep_link.get_response_jwt(resources))


# --- services (AGS, NRPS), outside any launch -------------------------------------------


# An access token serves an hour (IMS: expires_in 3600): a worker keeps its connector, and the
# token in it, for 50 minutes rather than ask the LMS for a new one before every score. Keyed
# by the registration's modification time, so an edited registration is used at once.
CONNECTOR_SECONDS = 50 * 60
_connectors: dict[tuple[int, float], tuple[float, ServiceConnector]] = {}


def _connector(registration: LtiRegistration) -> ServiceConnector:
    key = (registration.pk, registration.datetime_modified.timestamp())
    now = time.monotonic()
    held = _connectors.get(key)
    if held is not None and now - held[0] < CONNECTOR_SECONDS:
        return held[1]
    connector = ServiceConnector(registration.to_registration(), requests_session=_http())
    _connectors[key] = (now, connector)
    return connector


def _service_error(exc: Exception, what: str, registration: LtiRegistration) -> Exception:
    if isinstance(exc, LtiServiceException) and exc.response.status_code == 401:
        # The LMS no longer takes the token this worker holds: the next try asks for a new one.
        for key in [k for k in _connectors if k[0] == registration.pk]:
            _connectors.pop(key, None)
    if isinstance(exc, LtiServiceException):
        response = exc.response
        status = response.status_code
        text = f"{what}: the LMS answered {status} {response.text[:300]}"
        # 401: an access token the LMS no longer takes; 408/429/5xx: it cannot now.
        if status in (401, 408, 425, 429) or status >= 500:
            return LmsUnavailable(text)
        return LmsRefused(text)
    if isinstance(exc, requests.RequestException):
        return LmsUnavailable(f"{what}: the LMS could not be reached ({type(exc).__name__})")
    return LmsRefused(f"{what}: {exc}")


def service_url_valid(url: str) -> bool:
    """URLs from a launch's claims are the platform's, signed by it; still, kubelab dials only
    HTTPS, or HTTP on loopback (a local LMS)."""
    parts = urlsplit(url or "")
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


@dataclass(frozen=True)
class Score:
    user_sub: str
    given: float
    maximum: float
    completed: bool
    timestamp: str  # ISO 8601, the grading's: a retry sends the same


def score_publish(
    *, registration: LtiRegistration, lineitem_url: str, lineitems_url: str, score: Score
) -> None:
    """POST one score to its line item (FullyGraded). LmsUnavailable: try again later."""
    if not service_url_valid(lineitem_url):
        raise LmsRefused(f"kubelab does not send scores to {lineitem_url[:200]}")
    connector = _connector(registration)
    service = AssignmentsGradesService(
        connector,
        {"scope": [AGS_SCORE, AGS_LINEITEM], "lineitems": lineitems_url, "lineitem": lineitem_url},
    )
    grade = (
        Grade()
        .set_score_given(score.given)
        .set_score_maximum(score.maximum)
        .set_timestamp(score.timestamp)
        .set_activity_progress("Completed" if score.completed else "InProgress")
        .set_grading_progress("FullyGraded")
        .set_user_id(score.user_sub)
    )
    try:
        service.put_grade(grade)
    except (LtiException, LtiServiceException, requests.RequestException) as exc:
        raise _service_error(exc, "sending a score", registration) from None


def lineitem_create(
    *, registration: LtiRegistration, lineitems_url: str, resource_link_id: str, label: str,
    score_maximum: int, resource_id: str,
) -> str:  # fmt: skip
    """The URL of the line item for a link, created if the platform did not make one."""
    if not service_url_valid(lineitems_url):
        raise LmsRefused(f"kubelab does not create line items at {lineitems_url[:200]}")
    connector = _connector(registration)
    service = AssignmentsGradesService(
        connector, {"scope": [AGS_LINEITEM, AGS_LINEITEM_READ], "lineitems": lineitems_url}
    )
    wanted = (
        LineItem()
        .set_label(label)
        .set_score_maximum(score_maximum)
        .set_resource_id(resource_id)
        .set_resource_link_id(resource_link_id)
        .set_tag("kubelab")
    )
    try:
        item = service.find_or_create_lineitem(wanted, find_by="resource_id")
    except (LtiException, LtiServiceException, requests.RequestException) as exc:
        raise _service_error(exc, "creating a line item", registration) from None
    return str(item.get_id())


def members_fetch(*, registration: LtiRegistration, memberships_url: str) -> list[dict[str, Any]]:
    """Every member of the course (NRPS, every page)."""
    if not service_url_valid(memberships_url):
        raise LmsRefused(f"kubelab does not read rosters from {memberships_url[:200]}")
    connector = _connector(registration)
    service = NamesRolesProvisioningService(connector, {"context_memberships_url": memberships_url})
    members: list[dict[str, Any]] = []
    url: str | None = memberships_url
    try:
        # Page by page, and not forever: an LMS answering "next" endlessly stops at the cap.
        for _page in range(MAX_ROSTER_PAGES):
            page, url = service.get_members_page(url)
            members += [
                {**member, "status": member.get("status") or "Active",
                 "roles": member.get("roles") or []}
                for member in page
                if isinstance(member, dict) and member.get("user_id")
            ]  # fmt: skip
            if not url:
                return members
            if not service_url_valid(url):
                raise LmsRefused(f"the roster's next page is at {url[:200]}")
    except (LtiException, LtiServiceException, requests.RequestException) as exc:
        raise _service_error(exc, "reading the roster", registration) from None
    raise LmsRefused(f"the roster has more than {MAX_ROSTER_PAGES} pages")
