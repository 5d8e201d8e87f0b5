"""A Killercoda scenario as a kubelab lab, in the catalog's own layout (``lab.yaml`` and
``files/``), so it validates, is proven by ``labs test`` and is edited like any lab.

Each step with a ``verify.sh`` that a learner's namespace can satisfy becomes an exercise:
its text the instructions, ``verify.sh`` a script check, its ``{{exec}}`` commands the reference
solution, and the backgrounds and earlier steps' solutions the setup (the state the step starts
from; the learner runs it with "Set up"). The intro, the finish, a step without ``verify.sh`` and
a step that needs what a namespace cannot give become readings, the last with the reason. The
text stays the authors', under their licence, with the source named at the top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from labs.killercoda.environment import (
    namespaces_crossed,
    namespaces_mapped,
    namespaces_named,
    paths_mapped,
    unmappable,
    verify_reads_files,
)
from labs.killercoda.markdown import killercoda_markdown, solution_from_section
from labs.killercoda.scenario import Scenario
from labs.killercoda.source import Tree

CHECK_TIMEOUT = 30.0
MAX_LAB_FILE_BYTES = 64 * 1024
# The course's chapters, and words in a scenario that say it belongs there (first match wins).
CHAPTER_WORDS = (
    ("jobs", r"\b(Job|CronJob|cronjob|completions)\b"),
    ("daemonsets", r"\b(DaemonSet|daemonset|nodeSelector|affinity|toleration)\b"),
    ("replicasets", r"\b(ReplicaSet|Deployment|deployment|rollout|replicas)\b"),
    ("service-discovery", r"\b(Service|service|Endpoints|svc)\b"),
    ("labels-annotations", r"\b(label|annotation|selector)s?\b"),
    ("pods", r"\b(Pod|pod|container)s?\b"),
)
NO_CHECK = "the scenario gives this step no verify.sh, so there is nothing to check"


class ImportRefused(ValueError):
    """The scenario imports as nothing a learner could be graded on; the message says why, and
    ``steps`` what became of each step."""

    def __init__(self, message: str, steps: list[StepOutcome] | None = None) -> None:
        super().__init__(message)
        self.steps = steps or []


@dataclass(frozen=True)
class StepOutcome:
    number: int
    title: str
    exercise_id: str | None  # None: imported as a reading
    why: list[str] = field(default_factory=list)
    has_solution: bool = False
    # Where the solution came from: its {{exec}} blocks, or the code of its Solution section.
    solution_from: str = ""


@dataclass(frozen=True)
class Imported:
    slug: str
    spec: str
    files: dict[str, str]
    steps: list[StepOutcome]
    namespaces: list[str]
    notes: list[str]

    @property
    def exercises(self) -> int:
        return sum(1 for s in self.steps if s.exercise_id)


def slugify(text: str, limit: int = 40) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    words = words[:limit].rstrip("-")
    if not words or not words[0].isalpha():
        words = f"s-{words}".rstrip("-")
    return words


def chapter_guess(text: str) -> str:
    for chapter, words in CHAPTER_WORDS:
        if re.search(words, text):
            return chapter
    return "everyday-kubectl"


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _block(text: str) -> str:
    """Multi-line text as a literal block (readable and editable), when YAML can keep it so."""
    text = text.replace("\t", "    ").rstrip() + "\n"
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _Literal(text) if "\n" in text.strip("\n") else text.strip()


def _attribution(scenario: Scenario, source: str, licence: str) -> str:
    where = f"{source}/{scenario.folder}".rstrip("/") if source else scenario.folder or "."
    licence_text = licence or "the licence of its source repository"
    return (
        f"Imported from the Killercoda scenario *{scenario.title}* (`{where}`). The text is its "
        f"authors', under {licence_text}; kubelab translated its environment."
    )


def _assets(tree: Tree, scenario: Scenario, notes: list[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    for path, data in sorted(tree.files.items()):
        if not path.startswith("assets/"):
            continue
        name = path.removeprefix("assets/").replace("/", "-")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
            notes.append(f"{path}: left out (a name a lab file cannot have)")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            notes.append(f"{path}: left out (not text; a lab holds text files)")
            continue
        if len(data) > MAX_LAB_FILE_BYTES:
            notes.append(f"{path}: left out (larger than {MAX_LAB_FILE_BYTES // 1024} KiB)")
            continue
        files[name] = text
    for path, why in tree.skipped.items():
        notes.append(f"{path}: left out ({why})")
    for asset in scenario.assets:
        if not asset.target.startswith(("~", "/root")):
            notes.append(
                f"asset {asset.file}: meant for {asset.target}; here it is in the learner's home"
            )
    return files


def _given_files(files: dict[str, str], names: set[str]) -> str:
    """The scenario's files, as a block that writes them into the learner's home folder."""
    blocks = []
    for name in sorted(files):
        body = files[name]
        if not body.endswith("\n"):
            body += "\n"
        blocks.append(f"```shell\ncat > {name} <<'KUBELAB_EOF'\n{body}KUBELAB_EOF\n```")
    return (
        "The scenario gives you these files in your home folder; write them there first:\n\n"
        + namespaces_mapped("\n\n".join(blocks), names)
    )


def scenario_convert(
    tree: Tree,
    scenario: Scenario,
    *,
    slug: str = "",
    chapter: str = "",
    order: int = 50,
    source: str = "",
    licence: str = "",
) -> Imported:
    """The lab this scenario becomes, or ImportRefused when no step could be graded here."""
    notes = list(scenario.notes)
    files = _assets(tree.under(scenario.folder), scenario, notes)
    everything = "\n".join(
        t
        for p in [scenario.intro, *scenario.steps, scenario.finish]
        if p is not None
        for t in (p.text, p.verify, p.background, p.foreground)
        if t
    )
    names = namespaces_named(everything + "\n" + "\n".join(files.values()))
    files = {n: namespaces_mapped(t, names) for n, t in files.items()}
    slug = slug or slugify(scenario.title or scenario.folder.rsplit("/", 1)[-1])
    attribution = _attribution(scenario, source, licence)
    namespace_note = (
        f"\n\nThe scenario works in namespace(s) {', '.join(f'`{n}`' for n in sorted(names))}: "
        "here that is your own namespace, so the commands below leave `-n` out."
        if names
        else ""
    )
    readings: list[dict[str, object]] = []
    intro_text = attribution + namespace_note
    if scenario.intro is not None and scenario.intro.text.strip():
        intro_text = killercoda_markdown(scenario.intro.text).markdown + "\n---\n\n" + intro_text
    readings.append(
        {
            "id": "introduction",
            "title": _block(scenario.intro.title if scenario.intro else "Introduction"),
            "text": _block(namespaces_mapped(intro_text, names)),
        }
    )
    setup_scripts: list[str] = []
    if scenario.intro is not None:
        for n, script in enumerate((scenario.intro.background, scenario.intro.foreground)):
            if script:
                name = f"intro-{'background' if n == 0 else 'foreground'}.sh"
                files[name] = paths_mapped(namespaces_mapped(script, names))
                setup_scripts.append(f"bash {name}")
    intro_scripts = (
        "\n".join(s for s in (scenario.intro.background, scenario.intro.foreground) if s)
        if scenario.intro is not None
        else ""
    )
    done_before: list[str] = []
    exercises: list[dict[str, object]] = []
    outcomes: list[StepOutcome] = []
    last_exercise: str | None = None
    image_why = (
        []
        if scenario.on_kubernetes
        else [f"written for a {scenario.image or 'plain'} machine, not a Kubernetes cluster"]
    )
    for number, step in enumerate(scenario.steps, start=1):
        converted = killercoda_markdown(step.text)
        text = namespaces_mapped(converted.markdown, names)
        solution_from = "exec" if converted.commands else ""
        raw = converted.commands
        if not raw and converted.solution_blocks:
            raw = solution_from_section(converted.solution_blocks)
            solution_from = "solution section" if raw else ""
        commands = [paths_mapped(namespaces_mapped(c, names)) for c in raw]
        yaml_blocks = "\n".join(re.findall(r"```yaml\n(.*?)```", converted.markdown, re.DOTALL))
        asked = "\n".join(
            t
            for t in (intro_scripts, step.verify, step.background, step.foreground, *commands,
                      yaml_blocks)
            if t
        )  # fmt: skip
        why = (
            image_why
            + unmappable(asked)
            + verify_reads_files(step.verify or "")
            + namespaces_crossed(step.verify or "", names)
        )
        if step.verify is None:
            why = [NO_CHECK, *why]
        if why:
            readings.append(
                {
                    "id": f"step-{number}",
                    "title": _block(step.title),
                    "text": _block(text),
                    "why": _block("This step is here to read: it " + "; it ".join(why) + "."),
                    **({"after": last_exercise} if last_exercise else {}),
                }
            )
            outcomes.append(StepOutcome(number, step.title, None, why))
            continue
        exercise_id = f"step-{number}-{slugify(step.title, 30)}".rstrip("-")[:63]
        for n, script in enumerate((step.background, step.foreground)):
            if script:
                name = f"step-{number}-{'background' if n == 0 else 'foreground'}.sh"
                files[name] = paths_mapped(namespaces_mapped(script, names))
                setup_scripts.append(f"bash {name}")
        verify_name = f"step-{number}-verify.sh"
        files[verify_name] = paths_mapped(namespaces_mapped(step.verify or "", names))
        setup = [*setup_scripts, *done_before]
        if not exercises and files.keys() - {k for k in files if k.startswith(("step-", "intro-"))}:
            text = (
                _given_files(
                    {k: v for k, v in files.items() if not k.startswith(("step-", "intro-"))}, names
                )
                + "\n\n"
                + text
            )
        solution = commands or [
            "echo 'This scenario gives no commands to run for this step: write its solution "
            "in the lab (solution.commands).' >&2",
            "exit 1",
        ]
        exercises.append(
            {
                "id": exercise_id,
                "title": _block(step.title),
                "instructions": _block(text),
                "checks": [
                    {
                        "id": "verify",
                        "type": "script",
                        "run": f"bash {verify_name}",
                        "timeout": CHECK_TIMEOUT,
                        "message": "The scenario's check of this step (its verify.sh) does not "
                        "pass yet.",
                    }
                ],
                **({"setup": {"commands": setup}} if setup else {}),
                "solution": {"commands": [_block(c) for c in solution]},
                "near_misses": [
                    {
                        "id": "left-undone",
                        "description": "The step left undone: nothing run.",
                        "commands": ["true"],
                        "fails": ["verify"],
                    }
                ],
            }
        )
        done_before += commands
        last_exercise = exercise_id
        outcomes.append(
            StepOutcome(number, step.title, exercise_id, [], bool(commands), solution_from)
        )
    if scenario.finish is not None and scenario.finish.text.strip():
        readings.append(
            {
                "id": "finish",
                "title": _block(scenario.finish.title),
                "text": _block(
                    namespaces_mapped(killercoda_markdown(scenario.finish.text).markdown, names)
                ),
                **({"after": last_exercise} if last_exercise else {}),
            }
        )
    if not exercises:
        reasons = (
            "; ".join(f"step {o.number} ({o.title}): {', '.join(o.why)}" for o in outcomes)
            or "it has no steps"
        )
        raise ImportRefused(f"no step of this scenario can be checked here: {reasons}", outcomes)
    lab = {
        "title": _block(scenario.title),
        "chapter": chapter or chapter_guess(everything),
        "order": order,
        "summary": _block(scenario.description or scenario.title),
        "scenario": True,
        "solution_policy": {"show": "always"},
        "readings": readings,
        "exercises": exercises,
    }
    header = (
        f"# {attribution}\n# Written by `manage.py labs import-killercoda`; edit it like any lab.\n"
    )
    spec = header + yaml.dump(lab, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return Imported(slug, spec, files, outcomes, sorted(names), notes)
