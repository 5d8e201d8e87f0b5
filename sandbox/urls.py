from django.urls import path

from sandbox import picture_views, views

app_name = "sandbox"

urlpatterns = [
    path("status", views.status, name="status"),
    path("reset", views.reset, name="reset"),
    path("denials", views.denials, name="denials"),
    path("picture/object", picture_views.picture_object, name="picture_object"),
    path("pods/<str:pod>/ports/<int:port>/", views.pod_port, name="pod-port"),
    path("pods/<str:pod>/ports/<int:port>/<path:rest>", views.pod_port, name="pod-port-path"),
]
