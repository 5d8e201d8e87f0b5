"""Websocket routes of the classes app."""

from django.urls import path

from classes.consumers import ClassEventsConsumer

websocket_urlpatterns = [
    path("ws/classes/<int:classroom_id>/", ClassEventsConsumer.as_asgi()),
]
