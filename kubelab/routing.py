"""Every websocket route of kubelab; apps add theirs here."""

from django.urls import path

from classes.routing import websocket_urlpatterns as classes_urlpatterns
from kubelab.consumers import UserEventsConsumer
from sandbox.consumers import PictureConsumer
from terminal.routing import websocket_urlpatterns as terminal_urlpatterns

websocket_urlpatterns = [
    path("ws/events/", UserEventsConsumer.as_asgi()),
    path("ws/picture/", PictureConsumer.as_asgi()),
    *terminal_urlpatterns,
    *classes_urlpatterns,
]
