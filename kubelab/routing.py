"""Every websocket route of kubelab; apps add theirs here."""

from django.urls import path

from kubelab.consumers import UserEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", UserEventsConsumer.as_asgi()),
]
