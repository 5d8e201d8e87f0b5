"""kubelab: learn Kubernetes hands-on."""

from kubelab.celery import app as celery_app

__all__ = ["celery_app"]
