"""Websocket routes of the terminal: served in this process, or relayed to a terminal daemon
when KUBELAB_TERMINAL_DAEMON names one (read when the web process starts)."""

from django.urls import path

from terminal.config import terminal_config

if terminal_config().daemon:
    from terminal.relay import TerminalRelayConsumer as Consumer
else:
    from terminal.consumer import TerminalConsumer as Consumer

websocket_urlpatterns = [
    path("ws/terminal/", Consumer.as_asgi()),
    path("ws/terminal/<str:session_id>/", Consumer.as_asgi()),
]
