"""A scenario's ``index.json``, read into plain records; every problem names the file, the line
where JSON gives one, and the field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from labs.killercoda.source import Tree

# Images that are a Kubernetes cluster; any other (ubuntu, a bare machine) is not one.
KUBERNETES_IMAGES = ("kubernetes",)


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class Part:
    """The intro, a step or the finish: its title, text and scripts (None: not given)."""

    key: str
    title: str
    text: str
    verify: str | None = None
    background: str | None = None
    foreground: str | None = None
    text_file: str = ""
    verify_file: str = ""


@dataclass(frozen=True)
class Asset:
    file: str
    target: str


@dataclass(frozen=True)
class Scenario:
    folder: str
    title: str
    description: str
    image: str
    intro: Part | None
    steps: list[Part]
    finish: Part | None
    assets: list[Asset] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def on_kubernetes(self) -> bool:
        return any(word in self.image for word in KUBERNETES_IMAGES)


def _where(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def scenario_read(tree: Tree, folder: str = "") -> Scenario:
    """The scenario in ``folder`` of ``tree``; ScenarioError names file, line and field."""
    here = tree.under(folder)
    index = _where(folder, "index.json")
    raw = here.text("index.json")
    if raw is None:
        raise ScenarioError(f"{index}: missing; a Killercoda scenario folder has an index.json")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{index}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{index}: the top level is not an object")

    def text_of(value: Any, at: str, *, required: bool) -> tuple[str | None, str]:
        if value is None or value == "":
            if required:
                raise ScenarioError(f"{index}: {at}: missing")
            return None, ""
        if not isinstance(value, str):
            found = type(value).__name__
            raise ScenarioError(f"{index}: {at}: expected a file name, found {found}")
        name = value.removeprefix("./")
        body = here.text(name)
        if body is None:
            why = here.skipped.get(name)
            reason = f" ({why})" if why else ""
            raise ScenarioError(
                f"{index}: {at}: names {value}, which the folder does not have{reason}"
            )
        return body, name

    def part(value: Any, key: str, at: str, default_title: str) -> Part | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ScenarioError(f"{index}: {at}: expected an object")
        text, text_file = text_of(value.get("text"), f"{at}.text", required=key.startswith("step"))
        verify, verify_file = text_of(value.get("verify"), f"{at}.verify", required=False)
        background, _ = text_of(value.get("background"), f"{at}.background", required=False)
        # The older name for a script run in the background when the scenario starts.
        course_data, _ = text_of(value.get("courseData"), f"{at}.courseData", required=False)
        foreground, _ = text_of(value.get("foreground"), f"{at}.foreground", required=False)
        scripts = [s for s in (course_data, background) if s]
        title = value.get("title")
        return Part(
            key=key,
            title=title.strip() if isinstance(title, str) and title.strip() else default_title,
            text=text or "",
            verify=verify,
            background="\n".join(scripts) if scripts else None,
            foreground=foreground,
            text_file=text_file,
            verify_file=verify_file,
        )

    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ScenarioError(f"{index}: title: missing; give the scenario a title")
    details = data.get("details") or {}
    if not isinstance(details, dict):
        raise ScenarioError(f"{index}: details: expected an object")
    steps_raw = details.get("steps") or []
    if not isinstance(steps_raw, list):
        raise ScenarioError(f"{index}: details.steps: expected a list")
    steps = []
    for n, value in enumerate(steps_raw):
        step = part(value, f"step{n + 1}", f"details.steps[{n}]", f"Step {n + 1}")
        if step is not None:
            steps.append(step)
    assets = []
    notes = []
    raw_assets = details.get("assets") or {}
    if isinstance(raw_assets, dict):
        for host, entries in raw_assets.items():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                    assets.append(Asset(entry["file"], str(entry.get("target") or "~")))
            if host != "host01":
                notes.append(f"assets for {host}: kubelab has one learner machine, host01's")
    backend = data.get("backend") or {}
    image = str(backend.get("imageid", "")) if isinstance(backend, dict) else ""
    description = data.get("description")
    return Scenario(
        folder=folder,
        title=title.strip(),
        description=description.strip() if isinstance(description, str) else "",
        image=image,
        intro=part(details.get("intro"), "intro", "details.intro", "Introduction"),
        steps=steps,
        finish=part(details.get("finish"), "finish", "details.finish", "Finish"),
        assets=assets,
        notes=notes,
    )
