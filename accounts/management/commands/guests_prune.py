"""Delete guest accounts unused for KUBELAB_GUEST_DAYS (what Celery beat does every 15 min)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.conf import guest_config
from accounts.services import PRUNE_BATCH, GuestsPruned, guests_prune


class Command(BaseCommand):
    help = (
        "Tear down the environments of guests unused for KUBELAB_GUEST_DAYS and delete them; "
        "claimed accounts are never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list the guests that would go; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        if dry_run:
            pruned = guests_prune(dry_run=True, limit=None)
        else:
            pruned = GuestsPruned()
            while True:
                batch = guests_prune(limit=PRUNE_BATCH)
                pruned.deleted += batch.deleted
                pruned.skipped += batch.skipped
                # By hand nobody waits for the next beat: go on while whole batches went.
                if batch.skipped or len(batch.deleted) < PRUNE_BATCH:
                    break
        verb = "would delete" if dry_run else "deleted"
        days = guest_config().days
        self.stdout.write(f"{verb} {len(pruned.deleted)} guest(s) unused for {days} days")
        for name in pruned.deleted:
            self.stdout.write(f"  {name}")
        if pruned.skipped:
            self.stdout.write(
                f"kept {len(pruned.skipped)} for the next run (teardown failed, see the log): "
                + ", ".join(pruned.skipped)
            )
