"""`manage.py labs validate|test|watch|list`: the lab catalog's command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labs.selectors import catalog_dir
from labs.spec import Catalog, SpecError, catalog_load


def _catalog(root: str | None) -> Catalog:
    try:
        return catalog_load(Path(root) if root else catalog_dir())
    except SpecError as exc:
        raise CommandError(f"the lab catalog has {len(exc.problems)} problem(s):\n{exc}") from None


def tutorial_links_problems(catalog: Catalog) -> list[str]:
    """Exercise ids the lessons link to that the catalog does not have."""
    try:
        from tutorials.content_loader import chapters_load
    except ImportError:  # pragma: no cover - the tutorials app is part of the project
        return []
    known = set(catalog.exercise_ids())
    problems = []
    for chapter in chapters_load():
        for lesson in chapter.lessons.values():
            for exercise_id in lesson.exercises:
                if exercise_id not in known:
                    problems.append(
                        f"{lesson.source}: links to exercise "
                        f"{exercise_id!r}, which no lab defines. Fix: use one of the ids from "
                        "`manage.py labs list`, or add the exercise to its lab."
                    )
    return sorted(set(problems))


class Command(BaseCommand):
    help = "Validate, test and watch the lab catalog (labs/catalog)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="Check every lab.yaml and its files.")
        validate.add_argument("--catalog", help="catalog folder (default labs/catalog)")
        validate.add_argument(
            "--no-lessons", action="store_true", help="skip checking the lessons' exercise links"
        )
        listing = sub.add_parser("list", help="Print every exercise id.")
        listing.add_argument("--catalog")
        test = sub.add_parser(
            "test",
            help="For each exercise in fresh namespaces: checks fail, solution passes, near "
            "misses are rejected; repeated to expose flaky checks.",
        )
        test.add_argument("targets", nargs="*", help="lab slugs or lab/exercise ids (default: all)")
        test.add_argument("--catalog")
        test.add_argument("--repeat", type=int, default=2)
        test.add_argument("--workers", type=int, default=6)
        test.add_argument("--json", help="also write the report as JSON to this file")
        kc = sub.add_parser(
            "import-killercoda",
            help="Turn Killercoda scenarios (folders with index.json) into labs in the catalog's "
            "layout.",
        )
        kc.add_argument("source", help="a scenario's folder, or a folder of scenarios")
        kc.add_argument("--out", default="", help="where the lab folders go (default labs/catalog)")
        kc.add_argument("--slug", default="", help="the lab's slug (one scenario only)")
        kc.add_argument("--chapter", default="", help="its chapter (default: guessed)")
        kc.add_argument("--licence", default="", help="the source's licence, for the attribution")
        kc.add_argument("--source-name", default="", help="where it came from (a repository)")
        corpus = sub.add_parser(
            "corpus-report",
            help="Import every Killercoda scenario under the folders, and run each one's own "
            "commands against its verify.sh on the cluster; totals and grouped reasons.",
        )
        corpus.add_argument("roots", nargs="+")
        corpus.add_argument("--no-run", action="store_true", help="import and validate only")
        corpus.add_argument("--workers", type=int, default=4)
        watch = sub.add_parser(
            "watch", help="Grade learners' open exercises whenever their namespace changes."
        )
        watch.add_argument(
            "--debounce",
            type=float,
            help="seconds of quiet before a burst's last grading (default 0.02 grading from the "
            "cache, 0.15 with --no-cache)",
        )
        watch.add_argument(
            "--no-cache",
            action="store_true",
            help="keep no object cache: every grading goes to the workers and reads the cluster "
            "(the path before the cache; bench/check_latency compares the two)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "validate":
            self.validate(options)
        elif action == "list":
            for exercise_id in _catalog(options.get("catalog")).exercise_ids():
                self.stdout.write(exercise_id)
        elif action == "test":
            self.test(options)
        elif action == "import-killercoda":
            self.import_killercoda(options)
        elif action == "corpus-report":
            from labs.corpus import corpus_run, report_text

            def progress(line: str) -> None:
                self.stdout.write(line)
                sys.stdout.flush()

            report = corpus_run(
                [Path(r) for r in options["roots"]],
                run=not options["no_run"],
                workers=options["workers"],
                progress=progress,
            )
            self.stdout.write(report_text(report))
        elif action == "watch":
            from labs.watcher import CACHED_DEBOUNCE, QUEUED_DEBOUNCE, watch_forever

            cache = not options["no_cache"]
            debounce = options["debounce"]
            if debounce is None:
                debounce = CACHED_DEBOUNCE if cache else QUEUED_DEBOUNCE
            watch_forever(debounce=debounce, log=self.stdout.write, cache=cache)

    def import_killercoda(self, options: dict[str, Any]) -> None:
        from labs.killercoda.importing import ImportProblem, scenarios_import

        try:
            written = scenarios_import(
                Path(options["source"]),
                out=Path(options["out"]) if options["out"] else catalog_dir(),
                slug=options["slug"],
                chapter=options["chapter"],
                licence=options["licence"],
                source_name=options["source_name"],
            )
        except ImportProblem as exc:
            raise CommandError(str(exc)) from None
        for line in written:
            self.stdout.write(line)

    def validate(self, options: dict[str, Any]) -> None:
        catalog = _catalog(options.get("catalog"))
        problems = [] if options.get("no_lessons") else tutorial_links_problems(catalog)
        if problems:
            raise CommandError("\n".join(problems))
        exercises = sum(len(lab.exercises) for lab in catalog.labs.values())
        checks = sum(len(e.checks) for lab in catalog.labs.values() for e in lab.exercises)
        misses = sum(len(e.near_misses) for lab in catalog.labs.values() for e in lab.exercises)
        self.stdout.write(
            f"{len(catalog.labs)} labs, {exercises} exercises, {checks} checks, "
            f"{misses} near misses: valid"
        )

    def test(self, options: dict[str, Any]) -> None:
        from labs.contenttest import catalog_test, exercise_line, write_json

        catalog = _catalog(options.get("catalog"))
        targets = options["targets"]
        known = set(catalog.labs) | set(catalog.exercise_ids())
        unknown = [t for t in targets if t not in known]
        if unknown:
            raise CommandError(f"unknown lab or exercise: {', '.join(unknown)}")

        def progress(report: Any) -> None:
            self.stdout.write(exercise_line(report))
            sys.stdout.flush()

        report = catalog_test(
            catalog.ordered(),
            repeat=options["repeat"],
            workers=options["workers"],
            only=targets,
            progress=progress,
        )
        if options.get("json"):
            write_json(report, Path(options["json"]))
        failed = report.failed()
        flaky = report.flaky()
        exercises = len({r.key for r in report.reports})
        self.stdout.write(
            f"{exercises} exercises x {options['repeat']} runs in {report.seconds:.1f}s: "
            f"{len(failed)} failed, {len(flaky)} flaky"
        )
        if flaky:
            self.stdout.write("flaky: " + ", ".join(flaky))
        if failed or flaky:
            raise CommandError("the lab content test failed")
