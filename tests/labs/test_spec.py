# ruff: noqa: E501 (mistakes and their expected messages are a table)
"""Lab spec validation: every mistake names file, line, field and fix; random YAML only ever
produces validation errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs.spec import Lab, SpecError, catalog_load, lab_load, lab_parse

VALID = textwrap.dedent(
    """\
    title: Pods
    chapter: pods
    order: 3
    exercises:
      - id: kuard-pod
        title: Run kuard
        instructions: Create a Pod named kuard.
        hints: [Use kubectl apply.]
        checks:
          - id: exists
            type: exists
            kind: Pod
            name: kuard
          - id: image
            type: field
            kind: Pod
            name: kuard
            path: .spec.containers[0].image
            equals: gcr.io/kuar-demo/kuard-amd64:blue
        solution:
          files: [kuard-pod.yaml]
          commands:
            - kubectl apply -f kuard-pod.yaml
        near_misses:
          - id: wrong-image
            description: The green image.
            commands:
              - kubectl run kuard --image=gcr.io/kuar-demo/kuard-amd64:green
            fails: [image]
    """
)
FILES = {"kuard-pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kuard\n"}


def parse(text: str, files: dict[str, str] | None = None) -> Lab:
    return lab_parse(
        text,
        slug="pods",
        file="labs/catalog/pods/lab.yaml",
        files=FILES if files is None else files,
    )


def problems(text: str, files: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(text, files)
    return [str(p) for p in caught.value.problems]


def test_valid_spec_loads() -> None:
    lab = parse(VALID)
    assert lab.slug == "pods"
    assert lab.title == {"en": "Pods"}
    assert lab.exercise("kuard-pod").check("image").type == "field"
    assert lab.files == FILES


# (mutation of VALID, expected line, expected field, fragments the message/fix must contain)
MISTAKES = [
    (("type: exists", "type: exist"), 11, "exercises[0].checks[0].type",
     ["unknown check type 'exist'", "did you mean 'exists'?"]),
    (("        name: kuard\n      - id: image", "        nme: kuard\n      - id: image"), 13,
     "exercises[0].checks[0].nme", ["unknown field `nme`", "did you mean `name`?", "allowed here: `id`, `kind`"]),
    (("order: 3", "order: three"), 3, "order", ["expected a whole number (got str)"]),
    (("order: 3\n", ""), None, "order", ["`order` is required", "add `order:`"]),
    (("  - id: kuard-pod", "  - id: Kuard_Pod"), 5, "exercises[0].id",
     ["'Kuard_Pod' is not a valid id", "lowercase letters, digits and single dashes"]),
    (("fails: [image]", "fails: [imag]"), 29, "exercises[0].near_misses[0].fails[0]",
     ["expects check 'imag' to fail, but there is no such check", "did you mean 'image'?"]),
    (("path: .spec.containers[0].image", "path: .spec..image"), 18, "exercises[0].checks[1].path",
     ["recursive descent", "spell the path out"]),
    (("        name: kuard\n      - id: image", "        selector: app in (a\n      - id: image"), 13,
     "exercises[0].checks[0].selector", ["unbalanced '('", "write it like"]),
    (("        name: kuard\n      - id: image", "        name: kuard\n        selector: app=kuard\n      - id: image"),
     10, "exercises[0].checks[0]", ["exactly one of `name` and `selector`"]),
    (("      - id: image\n", "      - id: exists\n"), 14, "exercises[0].checks[1].id",
     ["check id 'exists' is used twice", "its own id"]),
    (("equals: gcr.io/kuar-demo/kuard-amd64:blue", "matches: '(unclosed'"), 19, "exercises[0].checks[1].matches",
     ["not a valid regular expression", "backslash"]),
    (("        type: field\n", "        type: field\n        at_least: 1\n"), 14, "exercises[0].checks[1]",
     ["one test per check", "split it"]),
    (("    hints: [Use kubectl apply.]", "    hints: [{en: Use it, fr: Utilisez}]"), 8,
     "exercises[0].hints[0]", ["unknown language 'fr'", "use only en, zh-hant"]),
    (("      - id: wrong-image", "      - id: yes"), 25, "exercises[0].near_misses[0].id",
     ["got bool", "YAML reads yes/no/on/off"]),
    (("files: [kuard-pod.yaml]", "files: [kuard.yaml]"), 21, "exercises[0].solution.files",
     ["'kuard.yaml' is not in the lab's files/ folder", "add files/kuard.yaml"]),
    (("        - kubectl apply -f kuard-pod.yaml", "        - kubectl apply -f other.yaml"), 23,
     "exercises[0].solution.commands[0]", ["uses 'other.yaml', which is not listed in `files`"]),
    (("      commands:\n        - kubectl apply -f kuard-pod.yaml",
      "      commands: [kubectl apply -f kuard-pod.yaml, kubectl label pods -l app=a,env=b color=red]"), 22,
     "exercises[0].solution.commands[2]", ["only sets shell variables", "block list"]),
    (("title: Pods\n", "title: Pods\ntitle: Again\n"), 2, "title", ["duplicate key 'title' (first on line 1)"]),
    (("title: Pods", "slug: pods\ntitle: Pods"), 1, "slug", ["is not set in lab.yaml", "folder name is the slug"]),
    (("kind: Pod\n        name: kuard\n      - id: image", "kind: Secret\n        name: kuard\n      - id: image"),
     12, "exercises[0].checks[0].kind", ["'Secret' is not allowed", "use 'Pod'"]),
    (("          - kubectl run", "          - {kubectl: run}\n          - kubectl run"), 28,
     "exercises[0].near_misses[0].commands[0]", ["expected text", "got dict"]),
    (("    hints: [Use kubectl apply.]", "    hints: [Use kubectl apply.]\n    points: -2"), 9,
     "exercises[0].points", ["must be at least 0"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutation", "line", "field", "fragments"), MISTAKES, ids=lambda v: str(v)[:40]
)
def test_mistakes_name_file_line_field_and_fix(
    mutation: tuple[str, str], line: int | None, field: str, fragments: list[str]
) -> None:
    old, new = mutation
    assert old in VALID, old
    found = problems(VALID.replace(old, new, 1))
    assert found, "an invalid spec must explain itself"
    first = found[0]
    where = f"labs/catalog/pods/lab.yaml:{line}:" if line else "labs/catalog/pods/lab.yaml:"
    assert first.startswith(where), first
    assert f" {field}: " in first, first
    assert " Fix: " in first or "is required" in first, first
    for fragment in fragments:
        assert fragment in first, first


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "the top level is a list"),
        ("title: [unclosed\n", "not valid YAML"),
        ("a: &x [*x]\n", "expands to more than"),
        ("\t- tab\n", "not valid YAML"),
    ],
)
def test_unreadable_files(text: str, fragment: str) -> None:
    assert any(fragment in p for p in problems(text))


def test_alias_bombs_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    assert any("expands to more than" in p for p in problems(bomb))


def test_bad_manifests_and_missing_lab_yaml(tmp_path: Path) -> None:
    root = tmp_path / "labs" / "catalog"
    (root / "pods" / "files").mkdir(parents=True)
    (root / "pods" / "lab.yaml").write_text(VALID)
    (root / "pods" / "files" / "kuard-pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kuard\n  namespace: default\n"
    )
    (root / "Bad_Slug").mkdir()
    (root / "empty").mkdir()
    with pytest.raises(SpecError) as caught:
        catalog_load(root)
    text = str(caught.value)
    assert "labs/catalog/pods/files/kuard-pod.yaml: document 1.metadata.namespace" in text
    assert "remove metadata.namespace" in text
    assert "'Bad_Slug' is not a valid lab slug" in text
    assert "labs/catalog/empty/lab.yaml: lab.yaml is missing" in text


def test_lab_load_reads_files(tmp_path: Path) -> None:
    directory = tmp_path / "catalog" / "pods"
    (directory / "files").mkdir(parents=True)
    (directory / "lab.yaml").write_text(VALID)
    (directory / "files" / "kuard-pod.yaml").write_text(FILES["kuard-pod.yaml"])
    lab = lab_load(directory, root=tmp_path / "catalog")
    assert lab.files == FILES


# ---------------------------------------------------------------------------------------------
# Property tests: whatever YAML arrives, the loader answers with a SpecError (or a Lab), never
# with any other exception.

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "exists",
            "field",
            "Pod",
            "kuard",
            ".spec",
            "app=a",
            "[",
            "{",
            "*",
            "&a",
            "~",
            "yes",
            "1e3",
        ]
    ),
)
KEYS = st.sampled_from(
    ["title", "chapter", "order", "exercises", "id", "checks", "type", "kind", "name", "path",
     "equals", "solution", "commands", "near_misses", "fails", "files", "selector", "hints",
     "instructions", "description", "owner", "every_node", "run", "timeout", "slug", "extra"]
)  # fmt: skip
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS | st.text(max_size=8), children, max_size=6),
    ),
    max_leaves=40,
)


def _only_spec_errors(text: str) -> None:
    try:
        parse(text)
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == "labs/catalog/pods/lab.yaml"
            assert str(problem)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_structures_give_only_validation_errors(document: object) -> None:
    _only_spec_errors(yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,?\n\t 0123456789.")), max_size=200)
)
def test_random_text_gives_only_validation_errors(text: str) -> None:
    _only_spec_errors(text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_valid_specs_give_only_validation_errors(data: st.DataObject) -> None:
    lines = VALID.splitlines()
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    replacement = data.draw(
        st.one_of(st.text(max_size=40), st.sampled_from(["", "  - x", ": :", "- [", "{a: b"]))
    )
    lines[index] = replacement
    _only_spec_errors("\n".join(lines))


PARTIAL = VALID.replace(
    "        name: kuard\n      - id: image",
    "        name: kuard\n        points: 2\n      - id: image\n        points: 3",
)


def test_points_on_checks_give_partial_credit_and_the_exercise_their_sum() -> None:
    exercise = parse(PARTIAL).exercises[0]
    assert exercise.partial_credit and exercise.points == 5
    assert [c.points for c in exercise.checks] == [2, 3]
    plain = parse(VALID).exercises[0]
    assert not plain.partial_credit and plain.points == 1


def test_exercise_points_that_disagree_with_its_checks_points_are_refused() -> None:
    agreeing = PARTIAL.replace("    hints: [Use kubectl apply.]", "    hints: [x]\n    points: 5")
    assert parse(agreeing).exercises[0].points == 5
    found = problems(agreeing.replace("points: 5", "points: 4"))
    assert len(found) == 1
    assert "lab.yaml:5" in found[0] and "exercises[0]" in found[0]
    assert "points is 4 but the checks' points add up to 5" in found[0]
    assert "drop the exercise's points" in found[0]
    too_many = PARTIAL.replace("points: 3", "points: 99")
    assert "more than 100" in problems(too_many)[0]
    assert "must be at least 0" in problems(PARTIAL.replace("points: 3", "points: -1"))[0]
