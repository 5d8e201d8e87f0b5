"""Make sure the admin account exists; print its generated password once, on creation."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import admin_ensure


class Command(BaseCommand):
    help = "Create the kubelab admin (KUBELAB_ADMIN_USER / KUBELAB_ADMIN_PASSWORD) if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("KUBELAB_ADMIN_USER") or "admin"
        printed = admin_ensure(
            username=username, password=os.environ.get("KUBELAB_ADMIN_PASSWORD") or None
        )
        if printed:
            self.stdout.write(
                f"Admin account created: user {username!r}, password {printed!r} "
                "(shown once; set KUBELAB_ADMIN_PASSWORD to choose it)"
            )
        else:
            self.stdout.write(f"Admin account {username!r} is ready.")
