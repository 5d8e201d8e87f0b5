"""Killercoda scenarios into labs (pure): the team's scenario in Killercoda's format, the Markdown
marks, what a namespace cannot give, and hostile folders and archives."""

from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from labs.killercoda.convert import ImportRefused, scenario_convert
from labs.killercoda.environment import namespaces_mapped, namespaces_named, unmappable
from labs.killercoda.importing import ImportProblem, imported_lab, scenarios_import
from labs.killercoda.markdown import killercoda_markdown
from labs.killercoda.scenario import ScenarioError, scenario_read
from labs.killercoda.source import (
    MAX_FILE_BYTES,
    SourceError,
    tree_from_folder,
    tree_from_zip,
)
from labs.spec import ScriptCheck
from labs.spec.loading import lab_load

SCENARIOS = Path(__file__).parent / "killercoda" / "scenarios"
SHOP = SCENARIOS / "shop-basics"


def _imported(folder: Path = SHOP, **kwargs):
    tree = tree_from_folder(folder)
    return scenario_convert(tree, scenario_read(tree), **kwargs)


def _parsed(imported):
    return imported_lab(imported)


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


# --- the team's scenario ----------------------------------------------------------------------


def test_the_shop_scenario_becomes_a_lab_that_validates():
    imported = _imported(slug="shop-basics", licence="CC BY 4.0", source="kubelab/tests")
    lab = _parsed(imported)
    assert lab.scenario is True
    assert [e.id for e in lab.exercises] == [
        "step-1-scale-the-web-deployment",
        "step-2-configure-the-shop",
    ]
    # verify.sh is a script check, run from the lab's files
    check = lab.exercises[0].checks[0]
    assert isinstance(check, ScriptCheck) and check.run == "bash step-1-verify.sh"
    assert 'kubectl -n "$NS" get deploy web' in lab.files["step-1-verify.sh"]
    # {{exec}} blocks are the solution, in order, with the namespace made the learner's
    assert lab.exercises[0].solution.commands == ["kubectl scale deployment web --replicas=3"]
    assert lab.exercises[1].solution.commands[0].startswith("sed -i")
    # the setup: the intro's background, then step 2's, then step 1 done
    assert lab.exercises[0].setup.commands == ["bash intro-background.sh"]
    assert lab.exercises[1].setup.commands == [
        "bash intro-background.sh",
        "bash step-2-background.sh",
        "kubectl scale deployment web --replicas=3",
    ]
    # the asset keeps its content, without the namespace it pinned
    assert "name: shop-settings" in lab.files["settings.yaml"]
    assert "namespace:" not in lab.files["settings.yaml"]
    assert imported.namespaces == ["shop"]


def test_the_cluster_scoped_step_is_text_to_read_with_its_reason():
    imported = _imported()
    lab = _parsed(imported)
    step3 = next(r for r in lab.readings if r.id == "step-3")
    assert step3.after == "step-2-configure-the-shop"
    assert "clusterrole" in step3.why["en"] and "whole cluster" in step3.why["en"]
    assert "kubectl create clusterrole node-reader" in step3.text["en"]
    assert [s.exercise_id for s in imported.steps] == [
        "step-1-scale-the-web-deployment",
        "step-2-configure-the-shop",
        None,
    ]
    assert lab.readings[0].id == "introduction" and lab.readings[0].after is None
    assert lab.readings[-1].id == "finish"


def test_the_text_stays_the_authors_with_attribution_and_licence():
    imported = _imported(licence="CC BY 4.0", source="kubelab/tests")
    lab = _parsed(imported)
    intro = lab.readings[0].text["en"]
    assert "Its web front end is a Deployment named `web`." in intro
    assert "Killercoda scenario *Shop basics" in intro and "CC BY 4.0" in intro
    assert "`shop`: here that is your own namespace" in intro
    assert imported.spec.startswith("# Imported from the Killercoda scenario")
    step1 = lab.exercises[0].instructions["en"]
    assert "Black Friday is coming." in step1
    # the learner types into their own terminal: the namespace flag is gone from the text too
    assert "kubectl -n shop" not in step1 and "kubectl scale deployment web" in step1
    # the scenario's file is given as a block that writes it into the learner's home
    assert "cat > settings.yaml <<'KUBELAB_EOF'" in step1


def test_import_writes_the_catalog_layout_and_never_overwrites(tmp_path):
    lines = scenarios_import(SHOP, out=tmp_path, slug="shop-basics", licence="CC BY 4.0")
    assert lines[0].endswith("(2 exercise(s))")
    assert any("step 3: to read, because it works on a clusterrole" in line for line in lines)
    lab = lab_load(tmp_path / "shop-basics", root=tmp_path)
    assert len(lab.exercises) == 2
    with pytest.raises(ImportProblem, match="exists; give another --slug"):
        scenarios_import(SHOP, out=tmp_path, slug="shop-basics")


def test_a_scenario_with_nothing_to_check_is_refused_with_each_steps_reason(tmp_path):
    (tmp_path / "index.json").write_text(
        '{"title": "Nodes", "details": {"steps": ['
        '{"title": "Drain", "text": "s1.md", "verify": "v1.sh"},'
        '{"title": "Look", "text": "s2.md"}]}, "backend": {"imageid": "kubernetes-kubeadm-2nodes"}}'
    )
    (tmp_path / "s1.md").write_text("`kubectl drain node01`{{exec}}")
    (tmp_path / "v1.sh").write_text("ssh node01 systemctl is-active kubelet")
    (tmp_path / "s2.md").write_text("Look around.")
    with pytest.raises(ImportRefused) as refused:
        _imported(tmp_path)
    said = str(refused.value)
    assert "step 1 (Drain)" in said and "over ssh" in said and "changes a node" in said
    assert "step 2 (Look)" in said and "no verify.sh" in said


def test_a_scenario_for_a_plain_machine_is_not_graded_as_kubernetes(tmp_path):
    (tmp_path / "index.json").write_text(
        '{"title": "Files", "details": {"steps": [{"text": "s.md", "verify": "v.sh"}]},'
        ' "backend": {"imageid": "ubuntu"}}'
    )
    (tmp_path / "s.md").write_text("touch a file")
    (tmp_path / "v.sh").write_text("test -f /root/file")
    with pytest.raises(ImportRefused, match="written for a ubuntu machine"):
        _imported(tmp_path)


def test_a_step_without_exec_commands_gets_a_solution_that_says_so():
    tree = tree_from_folder(SHOP)
    scenario = scenario_read(tree)
    bare = scenario.steps[0].__class__(**{**scenario.steps[0].__dict__, "text": "Scale it."})
    scenario = scenario.__class__(**{**scenario.__dict__, "steps": [bare]})
    imported = scenario_convert(tree, scenario)
    lab = _parsed(imported)
    assert lab.exercises[0].solution.commands[-1] == "exit 1"
    assert "gives no commands to run" in lab.exercises[0].solution.commands[0]
    assert imported.steps[0].has_solution is False


# --- index.json problems name file, line and field -------------------------------------------


@pytest.mark.parametrize(
    ("index", "said"),
    [
        ('{"title": "x", "details": {"steps": [{"text": "gone.md"}]}}',
         "index.json: details.steps[0].text: names gone.md, which the folder does not have"),
        ('{"title": "x",\n "details": {"steps": [}\n}', "index.json:2: not valid JSON"),
        ('{"details": {}}', "index.json: title: missing"),
        ('{"title": "x", "details": {"steps": [{"title": "a"}]}}',
         "index.json: details.steps[0].text: missing"),
        ('{"title": "x", "details": {"steps": [{"text": 3}]}}',
         "details.steps[0].text: expected a file name, found int"),
    ],
)  # fmt: skip
def test_index_problems_are_named(tmp_path, index, said):
    (tmp_path / "index.json").write_text(index)
    with pytest.raises(ScenarioError) as error:
        scenario_read(tree_from_folder(tmp_path))
    assert said in str(error.value)


# --- Markdown -----------------------------------------------------------------------------------


def test_exec_copy_and_plain_code_in_the_courses_dialect():
    converted = killercoda_markdown(
        "Run `kubectl get pods`{{exec}} now.\n\n"
        "`kubectl get nodes`{{exec interrupt}}\n\n"
        "Type `ls`{{copy}} or `pwd`{{}}.\n\n"
        "```\napiVersion: v1\nkind: Pod\n```{{copy}}\n\n"
        "```bash\nkubectl apply -f pod.yaml\nkubectl get pod\n```{{exec}}\n\n"
        "```bash\necho only to read\n```\n"
    )
    md = converted.markdown
    assert converted.commands == [
        "kubectl get pods",
        "kubectl get nodes",
        "kubectl apply -f pod.yaml\nkubectl get pod",
    ]
    assert "{{" not in md
    assert "Run `kubectl get pods` now." in md
    assert "```shell\nkubectl get nodes\n```" in md
    assert "```yaml\napiVersion: v1" in md
    assert "```shell\nkubectl apply -f pod.yaml\nkubectl get pod\n```" in md
    # a block without {{exec}} is not given a run button
    assert "```text\necho only to read\n```" in md


def test_exec_blocks_render_with_the_run_button():
    from tutorials.rendering import markdown_render

    html = markdown_render(killercoda_markdown("`kubectl get pods`{{exec}}").markdown).html
    assert 'data-action="run-in-terminal" data-command="kubectl get pods"' in html


# --- the environment ----------------------------------------------------------------------------


def test_namespaces_named_and_mapped():
    text = (
        'NS="ios"\nkubectl create ns ios\nkubectl -n ios get deploy\n'
        "kubectl get pods --namespace=ios -o wide\nkubectl get pods -n kube-system\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: ios\n"
        "subjects:\n- kind: ServiceAccount\n  namespace: ios\n"
    )
    names = namespaces_named(text)
    assert names == {"ios"}
    mapped = namespaces_mapped(text, names)
    assert "kubectl get deploy" in mapped and "kubectl get pods -o wide" in mapped
    assert "true  # namespace ios is your own namespace here" in mapped
    # kube-system is not the scenario's: left as written (RBAC refuses it, as it should)
    assert "kubectl get pods -n kube-system" in mapped
    # metadata.namespace goes; a subject's namespace is not metadata and stays for the shim
    assert "  name: x\nsubjects:" in mapped and "  namespace: ios" in mapped


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("ssh node01", "over ssh"),
        ("crictl ps", "container runtime"),
        ("systemctl restart kubelet", "node's services"),
        ("cat /etc/kubernetes/manifests/kube-apiserver.yaml", "control plane"),
        ("kubectl cordon node01", "changes a node"),
        ("kubectl label node node01 disk=ssd", "changes a node"),
        ("kubectl create clusterrole r --verb=get --resource=pods", "whole cluster"),
        ("kind: PersistentVolume", "makes a PersistentVolume"),
        ("kubectl delete ns ios", "deletes a namespace"),
        ("helm install x y", "helm"),
        ("wget https://raw.githubusercontent.com/a/b/main/pod.yaml", "internet"),
        ("kubectl exec p -- curl http://web.ios.svc.cluster.local", "networking"),
        ("apt-get install -y jq", "installs software"),
    ],
)
def test_what_a_namespace_cannot_give_is_named(command, reason):
    assert any(reason in why for why in unmappable(command)), unmappable(command)


@pytest.mark.parametrize(
    "command",
    [
        "kubectl -n ios scale deploy web --replicas=3",
        "kubectl get nodes",
        "kubectl port-forward pod/x 8080:80",
        "kubectl apply -f pod.yaml",
    ],
)
def test_namespaced_work_is_not_marked(command):
    assert unmappable(command) == []


# --- hostile folders and archives ----------------------------------------------------------------


def test_a_zip_that_climbs_out_is_refused_whole():
    data = _zip({"s/index.json": b"{}", "s/../../etc/cron.d/x": b"* * * * * root sh"})
    with pytest.raises(SourceError, match="points outside the scenario's folder"):
        tree_from_zip(data)
    with pytest.raises(SourceError, match="points outside"):
        tree_from_zip(_zip({"/etc/passwd": b"x"}))


def test_a_zip_with_a_symlink_is_refused():
    data = _zip({"s/index.json": b"{}"}, links={"s/step1/verify.sh": "/etc/shadow"})
    with pytest.raises(SourceError, match="is a symbolic link"):
        tree_from_zip(data)


def test_a_huge_file_is_skipped_and_named_and_reading_stops_at_the_limit():
    huge = b"0" * (MAX_FILE_BYTES * 40)  # compresses to almost nothing: a small bomb
    data = _zip({"s/index.json": b'{"title": "t"}', "s/assets/big.yaml": huge})
    assert len(data) < MAX_FILE_BYTES
    tree = tree_from_zip(data)
    assert "s/assets/big.yaml" not in tree.files
    assert tree.skipped["s/assets/big.yaml"] == f"larger than {MAX_FILE_BYTES // 1024} KiB"


def test_a_scenario_naming_a_huge_file_says_why_it_is_missing(tmp_path):
    (tmp_path / "index.json").write_text(
        '{"title": "t", "details": {"steps": [{"text": "big.md", "verify": "v.sh"}]}}'
    )
    (tmp_path / "big.md").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    (tmp_path / "v.sh").write_text("true")
    with pytest.raises(ScenarioError, match=r"names big.md, which the folder does not have "
                       r"\(larger than 256 KiB\)"):  # fmt: skip
        scenario_read(tree_from_folder(tmp_path))


def test_a_folder_with_links_never_follows_them(tmp_path):
    shutil.copytree(SHOP, tmp_path / "shop")
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    (tmp_path / "shop" / "assets" / "leak.yaml").symlink_to(secret)
    (tmp_path / "shop" / "assets" / "dir").symlink_to(tmp_path)
    fifo = tmp_path / "shop" / "assets" / "pipe"
    os.mkfifo(fifo)
    tree = tree_from_folder(tmp_path / "shop")
    assert tree.skipped["assets/leak.yaml"] == "a symbolic link"
    assert tree.skipped["assets/dir"] == "a symbolic link"
    assert tree.skipped["assets/pipe"] == "not a plain file"
    assert all("host secret" not in body.decode() for body in tree.files.values())
    imported = scenario_convert(tree, scenario_read(tree))
    assert "leak.yaml" not in imported.files
    assert any("assets/leak.yaml: left out (a symbolic link)" in n for n in imported.notes)


def test_a_link_as_a_scenarios_text_is_not_read(tmp_path):
    (tmp_path / "index.json").write_text(
        '{"title": "t", "details": {"steps": [{"text": "step.md", "verify": "v.sh"}]}}'
    )
    (tmp_path / "step.md").symlink_to("/etc/passwd")
    (tmp_path / "v.sh").write_text("true")
    with pytest.raises(ScenarioError, match=r"names step.md, .*\(a symbolic link\)"):
        scenario_read(tree_from_folder(tmp_path))


def test_what_learners_may_not_make_agrees_with_their_rights():
    from labs.killercoda.environment import NOT_GRANTED, READABLE
    from sandbox.manifests import LEARNER_RULES

    resources = {
        "Secret": "secrets", "ServiceAccount": "serviceaccounts", "Role": "roles",
        "RoleBinding": "rolebindings", "NetworkPolicy": "networkpolicies",
        "Ingress": "ingresses", "CronJob": "cronjobs",
        "PersistentVolumeClaim": "persistentvolumeclaims", "StatefulSet": "statefulsets",
        "ResourceQuota": "resourcequotas", "LimitRange": "limitranges",
        "PodDisruptionBudget": "poddisruptionbudgets",
    }  # fmt: skip
    assert set(resources) == set(NOT_GRANTED)

    def verbs(resource: str) -> set[str]:
        return {v for rule in LEARNER_RULES if resource in rule.resources for v in rule.verbs}

    for kind, resource in resources.items():
        assert "create" not in verbs(resource), f"learners may make {kind}s now: drop it here"
        assert ("get" in verbs(resource)) == (kind in READABLE), kind


@pytest.mark.parametrize(
    ("command", "marked"),
    [
        ("kubectl create secret generic db --from-literal=p=x", True),
        ("kubectl -n ios get secret db -o jsonpath='{.data.p}'", True),
        ("kind: NetworkPolicy", True),
        ("kubectl create cronjob c --image=busybox --schedule='* * * * *'", True),
        ("kubectl get cronjob c", False),
        ("kubectl describe quota", False),
        ("kubectl create deployment web --image=nginx", False),
    ],
)
def test_kinds_learners_may_not_make_are_marked(command, marked):
    assert any("may not make or read" in why for why in unmappable(command)) == marked


def test_a_check_across_two_of_the_scenarios_namespaces_is_marked():
    from labs.killercoda.environment import namespaces_crossed

    verify = 'SRC=prime; DST=mars\nkubectl -n "$DST" get pod web\n! kubectl -n prime get pod web'
    assert "(mars, prime)" in namespaces_crossed(verify, {"prime", "mars"})[0]
    assert namespaces_crossed("kubectl -n ios get deploy", {"ios", "mars"}) == []


def test_roots_folders_become_the_learners_home():
    from labs.killercoda.environment import paths_mapped

    mapped = paths_mapped("mkdir -p /opt/course/1\ncat > /usr/local/bin/x\ncp a /root/b\nls /etc/x")
    assert mapped == (
        "mkdir -p $HOME/opt/course/1\ncat > $HOME/.kubelab-bin/x\ncp a $HOME/b\nls /etc/x"
    )


def test_a_solution_section_is_found_under_a_heading_and_its_first_code_taken():
    converted = killercoda_markdown(
        "Create it.\n\n## ✅ Solution\n\n<details><summary>Short notes</summary>\n\nRead on.\n"
        "</details>\n\n<details>\n<summary>Click to view YAML</summary>\n\n```yaml\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n```\n\n```bash\n# check it\n"
        "k get pod web\nkubectl edit pod web\nkubectl get pods -w\n```\n</details>\n\n"
        "<details><summary>Another way</summary>\n\n```bash\nkubectl run web --image=x\n```\n"
        "</details>\n"
    )
    assert converted.commands == []
    from labs.killercoda.markdown import solution_from_section

    assert solution_from_section(converted.solution_blocks) == [
        "kubectl apply -f - <<'KUBELAB_EOF'\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
        "KUBELAB_EOF",
        "kubectl get pod web",
    ]
