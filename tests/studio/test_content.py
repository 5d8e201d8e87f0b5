"""The studio's pure parts: limits on what an author may send, commands that reach outside the
learner's namespace, marks at line and column, instructions written back into YAML, zips both
ways, and starters that validate."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from labs.spec import lab_load, lab_parse_with_files
from studio.archive import ArchiveError, lab_unzip, lab_zip
from studio.content import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_SPEC_BYTES,
    command_reaches_out,
    content_problems,
    reaching_problems,
    slug_problem,
)
from studio.marks import problem_marks
from studio.starters import STARTERS
from studio.yamledit import EditError, text_set

CATALOG = Path(__file__).resolve().parents[2] / "labs" / "catalog"


@pytest.mark.parametrize(
    "command",
    [
        "kubectl get pods -n other",
        "kubectl get pods --namespace=kube-system",
        "kubectl get pods --all-namespaces",
        "kubectl get pods -A",
        "x=$(kubectl get secrets -A -o name)",
        "kubectl --kubeconfig=/etc/admin.conf get pods",
        "kubectl --kubeconfig=practice.yaml config view; kubectl --kubeconfig=x get pods",
        "kubectl config view && kubectl --context=admin get pods",
        "kubectl get configmap config --kubeconfig=/etc/admin.conf",
        "kubectl --token=abc get pods",
        "kubectl --server=https://10.0.0.1:6443 get pods",
        "kubectl get pods --as=system:admin",
        "kubectl apply -f x.yaml && kubectl get pods -n default",
        "curl -s http://10.96.0.1/",
        "wget -qO- example.com",
    ],
)
def test_commands_that_reach_outside_the_namespace_are_named(command: str) -> None:
    assert command_reaches_out(command) is not None


@pytest.mark.parametrize(
    "command",
    [
        "kubectl apply -f kuard-pod.yaml",
        "kubectl get pods -o jsonpath='{.items[*].metadata.name}'",
        "sed -n 1p file; kubectl get pods",
        '[ -n "$want" ] || exit 1',
        "kubectl exec kuard -- ls -n /",
        "kubectl port-forward kuard 8080:8080 >/dev/null 2>&1 & curl -s http://localhost:8080/x",
        "curl -s --retry 10 http://127.0.0.1:8080/healthy/fail",
        "kubectl wait --for=condition=Complete job/once --timeout=60s",
        # `kubectl config` edits a local file and talks to no server.
        "kubectl config --kubeconfig=./practice.yaml set-context staging --cluster=kubelab",
        "kubectl config --kubeconfig=practice.yaml use-context staging",
    ],
)
def test_commands_inside_the_namespace_pass(command: str) -> None:
    assert command_reaches_out(command) is None


def test_every_catalog_lab_and_starter_is_within_the_limits_and_its_namespace() -> None:
    for folder in sorted(p for p in CATALOG.iterdir() if p.is_dir()):
        lab = lab_load(folder)
        spec = (folder / "lab.yaml").read_text()
        assert content_problems(spec, lab.files, slug=folder.name) == [], folder.name
        assert reaching_problems(lab, spec, slug=folder.name) == [], folder.name
    for starter in STARTERS.values():
        lab = lab_parse_with_files(
            starter.spec, slug="s", file="s/lab.yaml", files=starter.files, files_dir="s/files"
        )
        assert reaching_problems(lab, starter.spec, slug="s") == []
        assert lab.exercises and all(e.near_misses for e in lab.exercises)


def test_a_script_reaching_another_namespace_is_marked_on_its_line() -> None:
    starter = STARTERS["script"]
    spec = starter.spec.replace(
        "want=$(kubectl get pod web", "want=$(kubectl get pod web -n kube-system"
    )
    lab = lab_parse_with_files(spec, slug="s", file="s/lab.yaml", files=starter.files,
                               files_dir="s/files")  # fmt: skip
    (problem,) = reaching_problems(lab, spec, slug="s")
    assert "`kubectl -n`" in str(problem.message)
    assert problem.field == "exercises[0].checks[0].run"
    assert problem.line is not None
    assert spec.splitlines()[problem.line - 1].strip().startswith("run:")


def test_sizes_counts_and_names_are_bounded() -> None:
    huge = "x" * (MAX_SPEC_BYTES + 1)
    assert any("KiB" in str(p.message) for p in content_problems(huge, {}, slug="s"))
    many = {f"f{i}.yaml": "a: 1\n" for i in range(MAX_FILES + 1)}
    assert any("files; at most" in str(p.message) for p in content_problems("a: 1", many, slug="s"))
    big = {"big.yaml": "x" * (MAX_FILE_BYTES + 1)}
    assert any("big.yaml" in p.file for p in content_problems("a: 1", big, slug="s"))
    for name in ("../escape.yaml", "dir/x.yaml", ".hidden", "a b.yaml"):
        problems = content_problems("a: 1", {name: "a: 1\n"}, slug="s")
        assert any("not a file name" in str(p.message) for p in problems), name
    assert slug_problem("Probes") and slug_problem("a--b") and slug_problem("x" * 60)
    assert slug_problem("probes-practice") is None


def test_marks_point_at_the_key_of_the_field_on_its_line() -> None:
    spec = STARTERS["pod"].spec.replace("type: field", "type: feild", 1)
    files = STARTERS["pod"].files
    try:
        lab_parse_with_files(spec, slug="s", file="s/lab.yaml", files=files, files_dir="s/files")
    except Exception as exc:
        problems = exc.problems  # type: ignore[attr-defined]
    (mark,) = problem_marks(problems, slug="s", spec=spec, files=files)
    line = spec.splitlines()[mark.line - 1]
    assert line[mark.column - 1 :].startswith("type: feild")
    assert mark.target == "lab.yaml" and "did you mean 'field'" in mark.sentence
    assert mark.end_column > mark.column


def test_a_file_problem_marks_that_file() -> None:
    files = {**STARTERS["pod"].files, "web-pod.yaml": "kind: Pod\nmetadata:\n  namespace: other\n"}
    try:
        lab_parse_with_files(STARTERS["pod"].spec, slug="s", file="s/lab.yaml", files=files,
                             files_dir="s/files")  # fmt: skip
    except Exception as exc:
        problems = exc.problems  # type: ignore[attr-defined]
    marks = problem_marks(problems, slug="s", spec=STARTERS["pod"].spec, files=files)
    assert any(m.target == "files/web-pod.yaml" for m in marks)


@pytest.mark.parametrize(
    "text",
    ["New **text**\n\nwith `code`.\n", "no newline", "  starts indented\nthen not\n", "",
     "trailing blanks\n\n\n", "# looks like a comment\nkey: value\n- item\n",
     "中文說明 `kubectl`\n"],
)  # fmt: skip
def test_instructions_are_written_back_and_nothing_else_changes(text: str) -> None:
    spec = (CATALOG / "pods" / "lab.yaml").read_text()
    path = ("exercises", 1, "instructions", "zh-hant")
    changed = text_set(spec, path, text)
    before, after = yaml.safe_load(spec), yaml.safe_load(changed)
    before["exercises"][1]["instructions"]["zh-hant"] = text
    assert after == before
    # The author's comments elsewhere survive (a YAML dump would drop them).
    assert changed.count("\n#") + changed.count(" # ") >= spec.count("\n#") + spec.count(" # ") - 2


def test_a_path_that_is_no_text_is_refused() -> None:
    spec = STARTERS["pod"].spec
    with pytest.raises(EditError):
        text_set(spec, ("exercises", 5, "instructions", "en"), "x")
    with pytest.raises(EditError):
        text_set(spec, ("exercises", 0, "checks"), "x")
    with pytest.raises(EditError):
        text_set("a: [unclosed", ("a",), "x")


def test_a_lab_zips_in_the_catalog_layout_and_back() -> None:
    starter = STARTERS["placement"]
    data = lab_zip(slug="fast", spec=starter.spec, files=starter.files)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["fast/lab.yaml", "fast/files/fast-ds-solved.yaml", "fast/files/fast-ds.yaml"]
    unpacked = lab_unzip(data)
    assert (unpacked.folder, unpacked.spec, unpacked.files) == ("fast", starter.spec, starter.files)


def _zip(entries: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entries", "link", "said"),
    [
        ({"lab/lab.yaml": b"a: 1", "lab/../../etc/x": b"x"}, None, "outside"),
        ({"lab/lab.yaml": b"a: 1"}, "lab/files/evil.yaml", "link"),
        ({"lab/lab.yaml": b"a: 1", "lab/files/big.yaml": b"0" * (MAX_FILE_BYTES + 1)}, None,
         "larger"),
        ({"a/lab.yaml": b"a: 1", "b/lab.yaml": b"a: 1"}, None, "exactly one lab.yaml"),
        ({"lab/lab.yaml": b"a: 1", "lab/notes.txt": b"x"}, None, "lab.yaml and files/ only"),
        ({"lab/lab.yaml": "\udcff".encode("utf-8", "surrogatepass")}, None, "UTF-8"),
        ({f"lab/files/{i}.yaml": b"a: 1" for i in range(200)}, None, "at most"),
    ],
)  # fmt: skip
def test_a_hostile_zip_is_refused_with_a_sentence(
    entries: dict[str, bytes], link: str | None, said: str
) -> None:
    with pytest.raises(ArchiveError, match=said):
        lab_unzip(_zip(entries, link=link))
    with pytest.raises(ArchiveError, match="not a zip"):
        lab_unzip(b"PK\x03\x04 not really")


def test_a_zip_bomb_stops_at_the_limit_not_at_what_its_header_says() -> None:
    # 100 MiB of zeros compress to about 100 KiB: reading stops after the file limit.
    bomb = _zip({"lab/lab.yaml": b"a: 1", "lab/files/zeros.yaml": b"\0" * (100 * 2**20)})
    assert len(bomb) < 2**20
    with pytest.raises(ArchiveError, match="larger than"):
        lab_unzip(bomb)
