"""`manage.py classes list` and `manage.py classes export <id> [--format csv|json] [-o FILE]`:
the gradebook for scripts and cron, without the web server."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classes.export import gradebook_csv, gradebook_json
from classes.models import Classroom
from classes.selectors import gradebook_get


class Command(BaseCommand):
    help = "List classes, or export a class's gradebook as CSV or JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every class: id, name, students, labs")
        export = sub.add_parser("export", help="one class's gradebook")
        export.add_argument("classroom_id", type=int)
        export.add_argument("--format", choices=("csv", "json"), default="csv")
        export.add_argument("-o", "--output", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for each in Classroom.objects.order_by("pk"):
                students = each.enrollments.count()
                labs = ",".join(each.labs)
                self.stdout.write(f"{each.pk}\t{each.name}\t{students} students\t{labs}")
            return
        # The shell is already trusted with the database, so no instructor check applies here.
        found = Classroom.objects.filter(pk=options["classroom_id"]).first()
        if found is None:
            raise CommandError(
                f"no class with id {options['classroom_id']}; `manage.py classes list` shows them"
            )
        book = gradebook_get(classroom=found)
        if options["format"] == "csv":
            text = gradebook_csv(book)
        else:
            text = json.dumps(gradebook_json(book), ensure_ascii=False, indent=1) + "\n"
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        else:
            sys.stdout.write(text)
