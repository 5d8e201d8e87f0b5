"""Websocket routes of the terminal."""

from django.urls import path

from terminal.consumer import TerminalConsumer

websocket_urlpatterns = [
    path("ws/terminal/", TerminalConsumer.as_asgi()),
    path("ws/terminal/<str:session_id>/", TerminalConsumer.as_asgi()),
]
