"""`manage.py terminal_daemon --listen unix:/path|tcp:host:port [--advertise ...]`: learners'
shells in a process of their own, which web processes with KUBELAB_TERMINAL_DAEMON relay to
(terminal.daemon)."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kubelab.serve import descriptors_raise
from terminal import daemon_wire as wire
from terminal.config import terminal_config


class Command(BaseCommand):
    help = "Run the terminal daemon: learners' shells, relayed to by every web process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default="", help="default: KUBELAB_TERMINAL_DAEMON")
        parser.add_argument(
            "--advertise", default="", help="the address other hosts reach it at (registry)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from terminal.daemon import daemon_serve

        try:
            listen = wire.Address.parse(options["listen"] or terminal_config().daemon)
            advertise = wire.Address.parse(options["advertise"]) if options["advertise"] else None
        except ValueError as exc:
            raise CommandError(f"--listen/KUBELAB_TERMINAL_DAEMON: {exc}") from None
        descriptors_raise()
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - in requirements.lock
            pass

        def ready(daemon: Any) -> None:
            self.stdout.write(f"terminal daemon: listening on {daemon.listen}", ending="\n")
            self.stdout.flush()

        asyncio.run(daemon_serve(listen, advertise, ready))
        self.stdout.write("terminal daemon: stopped")
