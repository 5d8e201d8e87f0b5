"""ASGI entry point: HTTP through Django, websockets only when authenticated and same-origin."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubelab.settings")

from typing import Any

from asgiref.sync import ThreadSensitiveContext
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from kubelab.routing import websocket_urlpatterns  # noqa: E402


class OwnSyncThread:
    """Each websocket connection gets a thread of its own for its database and cluster work,
    as Django gives each HTTP request. Without it, every socket of the process shares one:
    a class arriving together queued every socket's log-in check behind each learner's terminal
    start (which provisions on the cluster), and 65 of 100 handshakes timed out (bench/soak)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        async with ThreadSensitiveContext():
            return await self.app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        # Static files are few and small (our CSS/JS and the npm-installed xterm.js), so Django's
        # static handler serves them in-process; a CDN or nginx can take over in production.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": OwnSyncThread(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
