"""Make sure the admin account exists; print its generated password once, on creation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import admin_ensure
from kubelab.env import env_str


class Command(BaseCommand):
    help = "Create the kubelab admin (KUBELAB_ADMIN_USER / KUBELAB_ADMIN_PASSWORD) if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        username = env_str("KUBELAB_ADMIN_USER", "admin")
        printed = admin_ensure(
            username=username, password=env_str("KUBELAB_ADMIN_PASSWORD", "") or None
        )
        if printed:
            self.stdout.write(
                f"Admin account created: user {username!r}, password {printed!r} "
                "(shown once; set KUBELAB_ADMIN_PASSWORD to choose it)"
            )
        else:
            self.stdout.write(f"Admin account {username!r} is ready.")
