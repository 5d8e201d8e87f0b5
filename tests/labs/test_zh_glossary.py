"""The lab specs' zh-hant texts speak the lessons' Traditional Chinese (issue 20): no bare English
node, probe, readiness, liveness, selector or namespace in prose, no spelling of a term other than
the lessons', and in each exercise the English glossed where the term is first used, as the
lessons gloss it: the term, then its English in full-width parentheses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from labs.spec import CATALOG_DIR, Lab, catalog_load

ROOT = Path(__file__).resolve().parents[2]

# Source: the zh-hant lessons (tutorials/content/*/zh-hant.md); test_the_glossary_is_the_lessons
# keeps it honest. English -> (the lessons' term, spellings the lessons never use: simplified,
# Japanese or mainland forms, other renderings a translator might reach for).
GLOSSARY: dict[str, tuple[str, tuple[str, ...]]] = {
    "node": ("節點", ("节点", "結點", "節点")),
    "worker node": ("工作節點", ("工作者節點", "worker 節點")),
    "probe": ("探針", ("探针", "探測器", "探頭")),
    "liveness probe": ("存活探針", ("存活性探針", "活性探針")),
    "readiness probe": ("就緒探針", ("就緒性探針", "準備探針")),
    "selector": ("選擇器", ("選取器", "选择器", "選擇子")),
    "label selector": ("標籤選擇器", ("label 選擇器",)),
    "namespace": ("命名空間", ("名稱空間", "名字空間", "命名空间")),
    "label": ("標籤", ("標簽", "标签")),
    "annotation": ("註解", ("注解", "註釋", "注釋")),
}
# The lessons' gloss: full-width parentheses, no space before them (the form of Taiwan's texts).
OPEN, CLOSE = "（", "）"  # noqa: RUF001
# The terms of issue 20: never bare in prose, and glossed on their first use in an exercise.
GLOSSED = ("node", "probe", "liveness probe", "readiness probe", "selector", "namespace")
# The lessons keep these in English (05-service-discovery: 開放 node port), so the labs may too.
KEPT_IN_ENGLISH = ("node port",)

_WORDS = sorted({word for english in GLOSSED for word in english.split()})
# ASCII boundaries: \b would see no boundary between 的 and node, and a hyphen keeps names such
# as ssd-nodes whole; readinessProbe and nodeSelector are field names, not words.
_BARE = re.compile(rf"(?<![A-Za-z0-9_-])(?:{'|'.join(_WORDS)})s?(?![A-Za-z0-9_-])", re.I)


def _lessons() -> str:
    paths = sorted((ROOT / "tutorials" / "content").glob("*/zh-hant.md"))
    assert paths
    return "\n".join(path.read_text(encoding="utf-8") for path in paths)


def _prose(text: str, names: frozenset[str]) -> str:
    """What a learner reads as language: code, commands and YAML in backticks are English by
    design, and so are the names of the objects the exercise asks for (**selectors**)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    for name in names:
        text = text.replace(f"**{name}**", " ")
    return text.replace("**", "")


class Text(NamedTuple):
    file: str
    exercise: str  # empty for the lab's own title and summary
    field: str
    prose: str

    def __str__(self) -> str:
        exercise = f", exercise {self.exercise}" if self.exercise else ""
        return f"{self.file}{exercise}, {self.field}"


def _texts(lab: Lab) -> Iterator[Text]:
    """Every zh-hant text of a lab as prose, each exercise's in reading order."""
    file = f"{CATALOG_DIR.relative_to(ROOT)}/{lab.slug}/lab.yaml"
    for field, text in (("title", lab.title), ("summary", lab.summary)):
        if text and "zh-hant" in text:
            yield Text(file, "", field, _prose(text["zh-hant"], frozenset()))
    for exercise in lab.exercises:
        names = frozenset(
            name
            for check in exercise.checks
            if isinstance(name := getattr(check, "name", None), str)
        )
        fields = [
            ("title", exercise.title),
            ("instructions", exercise.instructions),
            *((f"hints[{i}]", hint) for i, hint in enumerate(exercise.hints)),
            *((f"checks.{c.id}.message", c.message) for c in exercise.checks if c.message),
            *((f"near_misses.{m.id}.description", m.description) for m in exercise.near_misses),
        ]
        for field, text in fields:
            if "zh-hant" in text:
                yield Text(file, exercise.id, field, _prose(text["zh-hant"], names))


@pytest.fixture(scope="module")
def texts() -> list[Text]:
    return [text for lab in catalog_load().ordered() for text in _texts(lab)]


def test_no_bare_english_term_in_chinese_prose(texts: list[Text]) -> None:
    problems = []
    for text in texts:
        prose = text.prose
        for english, (term, _) in GLOSSARY.items():
            prose = prose.replace(f"{term}{OPEN}{english}{CLOSE}", term)
        for kept in KEPT_IN_ENGLISH:
            prose = re.sub(re.escape(kept), " ", prose, flags=re.I)
        problems += [f"{text}: bare {m.group()!r}" for m in _BARE.finditer(prose)]
    assert not problems, "\n".join(problems)


def test_labs_spell_terms_as_the_lessons_do(texts: list[Text]) -> None:
    problems = [
        f"{text}: {variant!r} where the lessons write {term!r}"
        for text in texts
        for term, variants in GLOSSARY.values()
        for variant in variants
        if variant in text.prose
    ]
    assert not problems, "\n".join(problems)


def test_each_exercise_glosses_a_term_where_it_first_uses_it(texts: list[Text]) -> None:
    # Titles are headings, which the lessons never gloss: the gloss goes in the text below.
    bodies: dict[tuple[str, str], str] = {}
    for text in texts:
        if text.exercise and text.field != "title":
            key = (text.file, text.exercise)
            bodies[key] = bodies.get(key, "") + "\n" + text.prose
    problems = []
    for (file, exercise), body in bodies.items():
        for english in GLOSSED:
            term = GLOSSARY[english][0]
            first = body.find(term)
            if first < 0:
                continue
            # A compound carries its head's English too (工作節點, worker node).
            gloss = re.match(f"{OPEN}([^{CLOSE}]*){CLOSE}", body[first + len(term) :])
            if not (gloss and gloss.group(1).endswith(english)):
                problems.append(
                    f"{file}, exercise {exercise}: first {term!r} without {OPEN}{english}{CLOSE}"
                )
    assert not problems, "\n".join(problems)


def test_the_glossary_is_the_lessons() -> None:
    lessons = _lessons()
    for english, (term, variants) in GLOSSARY.items():
        assert term in lessons, f"the lessons never write {term!r} for {english!r}"
        used = [variant for variant in variants if variant in lessons]
        assert not used, f"the lessons write {used} for {english!r}: the glossary is out of date"
    for kept in KEPT_IN_ENGLISH:
        assert kept in lessons, f"the lessons no longer keep {kept!r} in English"
    # Full-width parentheses, no space: the form the labs' glosses must take.
    glossed = {
        english
        for english, (term, _) in GLOSSARY.items()
        if f"{term}{OPEN}{english}{CLOSE}" in lessons
    }
    assert {"node", "namespace", "liveness probe", "readiness probe"} <= glossed, glossed
