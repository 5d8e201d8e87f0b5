"""Websocket routes of the classes app."""

from django.urls import path

from classes.consumers import ClassEventsConsumer
from classes.watch_consumers import StudentPictureConsumer, StudentTerminalWatchConsumer

websocket_urlpatterns = [
    path("ws/classes/<int:classroom_id>/", ClassEventsConsumer.as_asgi()),
    path(
        "ws/classes/<int:classroom_id>/students/<int:user_id>/picture/",
        StudentPictureConsumer.as_asgi(),
    ),
    path(
        "ws/classes/<int:classroom_id>/students/<int:user_id>/terminal/",
        StudentTerminalWatchConsumer.as_asgi(),
    ),
]
