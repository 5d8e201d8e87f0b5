"""Imported Killercoda scenarios on the real cluster: the team's scenario passes `labs test`
(its setup, its verify failing first, its {{exec}} commands passing it, the step left undone
failing it); the scenario's namespace is the learner's own only in a scenario's steps; a hostile
verify.sh is contained by the jail; a learner's "Set up this step" makes the starting state."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.roles import Role, role_grant
from labs.checks import exercise_evaluate
from labs.contenttest import catalog_test
from labs.killercoda.convert import ImportRefused, scenario_convert
from labs.killercoda.scenario import scenario_read
from labs.killercoda.source import tree_from_folder, tree_from_zip
from labs.learner_setup import exercise_setup_run
from labs.scripts import learner_shell_run
from labs.snapshot import snapshot_take
from labs.spec.loading import lab_parse_with_files
from tests.fixtures.learners import Learner
from tests.labs.test_scripts import SECRETS_FILE, host_secrets

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]

SHOP = Path(__file__).parent / "killercoda" / "scenarios" / "shop-basics"


def shop_lab(slug: str = "shop-basics") -> Any:
    tree = tree_from_folder(SHOP)
    imported = scenario_convert(tree, scenario_read(tree), slug=slug)
    return lab_parse_with_files(
        imported.spec, slug=slug, file="lab.yaml", files=imported.files, files_dir="files"
    )


def test_the_shop_scenario_passes_its_content_test(cluster: Any) -> None:
    report = catalog_test([shop_lab()], repeat=1, workers=2)
    assert sorted(r.key for r in report.reports) == [
        "shop-basics/step-1-scale-the-web-deployment",
        "shop-basics/step-2-configure-the-shop",
    ]
    for item in report.reports:
        assert item.ok, [(s.name, s.detail) for s in item.steps]
        names = [s.name for s in item.steps]
        assert names[:2] == ["fails first", "solution passes"], names
        assert "near miss left-undone" in names


def test_the_scenarios_namespace_is_the_learners_own_only_in_a_scenario(
    make_learner: Callable[..., Learner],
) -> None:
    learner = make_learner()
    kubeconfig = learner.kubeconfig.read_text()
    script = (
        'NS=shop\nkubectl create namespace "$NS"\n'
        'kubectl get ns "$NS" -o name\n'
        'kubectl -n "$NS" create configmap made-in-shop --from-literal=a=b\n'
        "cat <<EOF | kubectl apply -f -\napiVersion: v1\nkind: Namespace\nmetadata:\n"
        "  name: shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pinned\n"
        "  namespace: shop\nEOF\n"
        "kubectl get configmaps --all-namespaces -o name\n"
    )
    run = learner_shell_run(script=script, kubeconfig=kubeconfig, timeout=30, scenario=True)
    assert run.exit_code == 0, run.output
    assert f"namespace/{learner.namespace}" in run.output
    assert "configmap/made-in-shop" in run.output and "configmap/pinned" in run.output
    # Both landed in the learner's own namespace.
    listed = learner.kubectl("get", "configmaps", "-o", "name")
    assert "configmap/made-in-shop" in listed.stdout and "configmap/pinned" in listed.stdout

    # Outside a scenario the same flag is what it says: another namespace, refused.
    plain = learner_shell_run(
        script="kubectl -n shop get configmaps", kubeconfig=kubeconfig, timeout=30
    )
    assert plain.exit_code != 0 and "forbidden" in plain.output.lower(), plain.output
    # And the mapping is no way out: kube-system through the shim is the learner's namespace.
    mapped = learner_shell_run(
        script="kubectl get pods -n kube-system -o name; kubectl get configmaps -n kube-system",
        kubeconfig=kubeconfig,
        timeout=30,
        scenario=True,
    )
    assert "coredns" not in mapped.output and "made-in-shop" in mapped.output, mapped.output


def _hostile_zip(redis_port: int, *, plain: bool = False) -> bytes:
    if plain:  # says what it does: the importer reads it and refuses the step
        verify = "kubectl --kubeconfig=/etc/kubernetes/admin.conf get secrets -A\n"
        return _zip_of(verify)
    # Hides what it does from the importer (names built at run time): the jail must hold.
    verify = f"""#!/bin/bash
s=sec; s="${{s}}rets"; k=/etc/kube; k="${{k}}rnetes/admin.conf"
for f in {SECRETS_FILE} /etc/shadow /root /work; do
  if [ -e "$f" ] && cat "$f" 2>/dev/null; then echo "LEAK $f"; fi
done
redis='exec 3<>/dev/tcp/127.0.0.1/{redis_port}; printf "PING\\r\\n" >&3; head -c 64 <&3'
if timeout 5 bash -c "$redis"; then echo "REACHED redis"; fi
"$KUBELAB_REAL_KUBECTL" get "$s" -n kube-system && echo "LEAK kube-system secrets"
kubectl --kubeconfig="$k" get "$s" -A && echo "LEAK admin"
kubectl get configmap flag
"""
    return _zip_of(verify)


def _zip_of(verify: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "hostile/index.json",
            '{"title": "Hostile", "details": {"steps": [{"title": "Leave", "text": "s.md", '
            '"verify": "verify.sh"}]}, "backend": {"imageid": "kubernetes-kubeadm-1node"}}',
        )
        archive.writestr(
            "hostile/s.md", "Make a ConfigMap `flag`: `kubectl create cm flag`{{exec}}"
        )
        archive.writestr("hostile/verify.sh", verify)
    return buffer.getvalue()


def test_a_verify_that_says_it_leaves_is_refused_at_import() -> None:
    tree = tree_from_zip(_hostile_zip(6379, plain=True))
    with pytest.raises(ImportRefused) as refused:
        scenario_convert(tree, scenario_read(tree, "hostile"), slug="hostile")
    assert "the control plane is not the learner's" in str(refused.value)
    assert "uses a Secret" in str(refused.value)


def test_a_verify_that_tries_to_leave_the_jail_is_contained(
    make_learner: Callable[..., Learner], redis_available: str
) -> None:
    port = int(redis_available.rsplit(":", 1)[1].split("/", 1)[0])
    tree = tree_from_zip(_hostile_zip(port))
    imported = scenario_convert(tree, scenario_read(tree, "hostile"), slug="hostile")
    lab = lab_parse_with_files(
        imported.spec, slug="hostile", file="lab.yaml", files=imported.files, files_dir="files"
    )
    learner = make_learner()
    exercise = lab.exercises[0]

    def grade() -> tuple[str, str]:
        snapshot = snapshot_take(
            lab=lab,
            exercise=exercise,
            namespace=learner.namespace,
            kubeconfig=lambda: learner.kubeconfig.read_text(),
        )
        return exercise_evaluate(exercise, snapshot).status, snapshot.scripts["verify"].output

    status, output = grade()
    assert status == "failed", output
    assert "LEAK" not in output and "REACHED" not in output, output
    assert "forbidden" in output.lower(), output
    for value in host_secrets():
        assert value not in output, "a host secret reached the verify script"
    # It is still a check that works: the learner's own ConfigMap makes it pass.
    learner.kubectl("create", "configmap", "flag").check_returncode()
    status, output = grade()
    assert status == "passed", output
    assert "LEAK" not in output and "REACHED" not in output, output


def test_set_up_this_step_makes_the_starting_state_in_the_learners_namespace(
    make_learner: Callable[..., Learner], monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.services import lab_import

    learner = make_learner()
    role_grant(user=learner.user, role=Role.INSTRUCTOR)  # an author tries their import
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in SHOP.rglob("*"):
            if path.is_file():
                archive.writestr(f"shop-basics/{path.relative_to(SHOP)}", path.read_bytes())
    _, outcome = lab_import(owner=learner.user, data=buffer.getvalue(), slug="shop-try")
    assert any("step 3: to read" in line for line in outcome), outcome
    told: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "labs.learner_setup.user_event_send", lambda *, user_id, event: told.append(event)
    )

    ok = exercise_setup_run(
        user=learner.user,
        lab_slug="shop-try",
        exercise_id="step-2-configure-the-shop",
        version=0,
    )
    assert ok, told
    assert told[-1]["type"] == "labs.setup" and told[-1]["ok"] is True
    deployment = learner.kubectl(
        "get", "deployment", "web", "-o",
        "jsonpath={.spec.replicas} {.metadata.annotations.shop\\.example/owner}",
    )  # fmt: skip
    # the intro's background made it, step 1's solution scaled it, step 2's background annotated
    assert deployment.stdout == "3 team-web", deployment

    # Run again, the setup fails on what it made the first time, and the learner reads why.
    ok = exercise_setup_run(
        user=learner.user,
        lab_slug="shop-try",
        exercise_id="step-2-configure-the-shop",
        version=0,
    )
    assert not ok and told[-1]["ok"] is False
    assert "already exists" in told[-1]["output"], told[-1]


def test_the_corpus_run_imports_runs_and_counts_the_reasons(cluster: Any, tmp_path: Path) -> None:
    from labs.corpus import corpus_run, report_text

    nodes = tmp_path / "nodes"
    nodes.mkdir()
    (nodes / "index.json").write_text(
        '{"title": "Drain", "details": {"steps": [{"title": "Drain", "text": "s.md", '
        '"verify": "v.sh"}]}, "backend": {"imageid": "kubernetes-kubeadm-2nodes"}}'
    )
    (nodes / "s.md").write_text("`kubectl drain node01`{{exec}}")
    (nodes / "v.sh").write_text("kubectl get node node01 -o jsonpath='{.spec.unschedulable}'")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "index.json").write_text('{"title": "x", "details": {"steps": [}')
    lines: list[str] = []
    report = corpus_run([SHOP.parent, tmp_path], workers=2, progress=lines.append)
    totals = report.totals()
    assert totals["scenarios"] == 3 and totals["imported"] == 1 and totals["valid"] == 1
    assert totals["exercises"] == 2 and totals["exercises passing end to end"] == 2
    assert totals["scenarios passing end to end"] == 1
    assert dict(report.step_reasons()) == {
        "works on a clusterrole, which belongs to the whole cluster, not a namespace": 1,
        "changes a node (cordon, drain, taint, labels); nodes belong to the whole cluster": 1,
    }
    assert report.reasons() == [("not read: index.json:N: not valid JSON: Expecting value", 1)]
    text = report_text(report)
    assert "exercises passing end to end: 2" in text
    assert any(line.endswith(": passed") for line in lines), lines
