"""The Kubernetes manifests' terminal daemons (deploy/kubernetes/terminals.yaml): what kustomize
renders is read the way the cluster and kubelab would read it. Web replicas relay to the daemons'
Service, each daemon advertises a name the headless Service really gives its pod, only web and
worker pods reach the daemons, and the jails' unconfined context stays in user-namespaced pods.
The Pod Security levels the namespace's comment promises are asked of the real API server."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from jails.config import jail_config
from jails.kubectl import kubectl_find
from terminal.config import terminal_config
from terminal.daemon_wire import Address

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
WORKLOADS = ("Deployment", "StatefulSet")
# A user-namespaced pod maps 65536 uids; 65534 is nobody (and the pause image's 65535 after it).
POD_UIDS = 65534
SHELL_PSS_MIB = 2  # bench/density: an idle shell's proportional share of memory
JAIL_HOSTS = {"terminals", "worker"}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    kubectl = kubectl_find()
    if kubectl is None:
        pytest.skip("no kubectl to run kustomize with")
    done = subprocess.run(
        [str(kubectl), "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def workloads(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in WORKLOADS}


def containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Kubernetes' label selector semantics (an empty selector selects everything)."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for term in selector.get("matchExpressions", []):
        key, operator, values = term["key"], term["operator"], term.get("values", [])
        present = key in labels
        if not {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


def expanded(text: str, env: dict[str, str]) -> str:
    """What the kubelet runs: $(VAR) of a defined variable replaced, any other left as it is."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), text)


def config_env(docs: list[Doc], monkeypatch: pytest.MonkeyPatch, container: Doc) -> None:
    """The container's environment, as kubelab's own settings code will read it."""
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = one(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
            for key, value in data.items():
                monkeypatch.setenv(key, value)
    for entry in container.get("env", []):
        if "value" in entry:
            monkeypatch.setenv(entry["name"], entry["value"])


def port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container.get("ports", []) if p["name"] == port]
    return int(number)


def daemon_container(docs: list[Doc]) -> Doc:
    (container,) = one(docs, "StatefulSet", "terminals")["spec"]["template"]["spec"]["containers"]
    return container


def test_web_replicas_relay_to_the_terminals_service(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    web = one(rendered, "Deployment", "web")
    assert web["spec"]["replicas"] > 1
    (container,) = web["spec"]["template"]["spec"]["containers"]
    config_env(rendered, monkeypatch, container)
    local = Address.parse(terminal_config().daemon)  # what terminal.routing and relay read
    assert local.kind == "tcp"
    service = one(rendered, "Service", local.host)
    daemons = one(rendered, "StatefulSet", "terminals")
    assert service["spec"].get("clusterIP") != "None"  # one address, any daemon behind it
    assert selects({"matchLabels": service["spec"]["selector"]},
                   daemons["spec"]["template"]["metadata"]["labels"])  # fmt: skip
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == local.port]
    assert port_number(daemon_container(rendered), port["targetPort"]) == local.port
    # Only the daemons are behind it: no other workload's pods share the selector.
    for name, workload in workloads(rendered).items():
        if name != "terminals":
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert not selects({"matchLabels": service["spec"]["selector"]}, labels), name


def test_web_starts_no_jail_and_runs_restricted(rendered: list[Doc]) -> None:
    pod = one(rendered, "Deployment", "web")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in containers(pod):
        context = container.get("securityContext", {})
        assert context.get("seccompProfile", {}).get("type") != "Unconfined", container["name"]
        assert context.get("allowPrivilegeEscalation") is False, container["name"]
        assert context.get("capabilities", {}).get("drop") == ["ALL"], container["name"]
        assert not context.get("capabilities", {}).get("add"), container["name"]
        assert context.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0


def test_each_daemon_advertises_its_own_name_under_the_headless_service(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    daemons = one(rendered, "StatefulSet", "terminals")
    peers = one(rendered, "Service", daemons["spec"]["serviceName"])
    container = daemon_container(rendered)
    namespace = daemons["metadata"]["namespace"]
    # Filled in by the kubelet from the downward API, per pod.
    fields = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
              for e in container["env"] if "fieldRef" in e.get("valueFrom", {})}  # fmt: skip
    command = container["command"]
    assert command[command.index("manage.py") + 1] == "terminal_daemon"
    config_env(rendered, monkeypatch, container)
    cluster_address = Address.parse(terminal_config().daemon)
    advertised = set()
    for ordinal in range(daemons["spec"]["replicas"]):
        pod_name = f"{daemons['metadata']['name']}-{ordinal}"
        values = {"metadata.name": pod_name, "metadata.namespace": namespace}
        env = {name: values[path] for name, path in fields.items()}
        argv = [expanded(arg, env) for arg in command]
        listen = Address.parse(argv[argv.index("--listen") + 1])
        advertise = Address.parse(argv[argv.index("--advertise") + 1])
        assert advertise.kind == listen.kind == "tcp"
        assert listen.host in ("0.0.0.0", "::")  # noqa: S104 (every interface of the pod)
        peer_domain = f"{peers['metadata']['name']}.{namespace}.svc.cluster.local"
        assert advertise.host == f"{pod_name}.{peer_domain}"
        assert advertise.port == listen.port == port_number(container, "terminals")
        assert advertise.port in [port_number(container, p["targetPort"])
                                  for p in peers["spec"]["ports"]]  # fmt: skip
        # The relay goes to the registry's address only when it is not its own default one.
        assert str(advertise) != str(cluster_address)
        advertised.add(str(advertise))
    assert len(advertised) == daemons["spec"]["replicas"] > 1


def test_the_headless_service_names_exactly_the_daemons(rendered: list[Doc]) -> None:
    daemons = one(rendered, "StatefulSet", "terminals")
    peers = one(rendered, "Service", daemons["spec"]["serviceName"])
    assert peers["spec"]["clusterIP"] == "None"
    assert peers["spec"].get("publishNotReadyAddresses", False) is False
    selector = {"matchLabels": peers["spec"]["selector"]}
    for name, workload in workloads(rendered).items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selects(selector, labels) == (name == "terminals"), name
    assert selects(daemons["spec"]["selector"], daemons["spec"]["template"]["metadata"]["labels"])
    for probe in ("readinessProbe", "livenessProbe"):
        port = daemon_container(rendered)[probe]["tcpSocket"]["port"]
        assert port_number(daemon_container(rendered), port) == 7070


def test_only_web_and_worker_pods_reach_the_daemons_and_only_on_their_port(
    rendered: list[Doc],
) -> None:
    pods = {name: w["spec"]["template"]["metadata"]["labels"]
            for name, w in workloads(rendered).items()}  # fmt: skip
    policies = [d for d in rendered if d["kind"] == "NetworkPolicy"]
    container = daemon_container(rendered)

    def ingress_rules(labels: dict[str, str]) -> list[Doc]:
        # Policies add up: every rule of every policy selecting the pod admits something.
        return [rule for policy in policies
                if "Ingress" in policy["spec"]["policyTypes"]
                and selects(policy["spec"]["podSelector"], labels)
                for rule in policy["spec"].get("ingress", [])]  # fmt: skip

    rules = ingress_rules(pods["terminals"])
    assert rules, "no policy isolates the daemons: every pod could connect"
    admitted: set[str] = set()
    for rule in rules:
        assert rule.get("ports"), f"a rule admits every port: {rule}"
        for port in rule["ports"]:
            assert port.get("protocol", "TCP") == "TCP" and "endPort" not in port, rule
            assert port_number(container, port["port"]) == 7070, rule
        assert rule.get("from"), f"a rule admits any source: {rule}"
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, f"beyond this namespace's pods: {peer}"
            admitted |= {name for name, labels in pods.items()
                         if selects(peer["podSelector"], labels)}  # fmt: skip
    assert admitted == {"web", "worker"}
    # The rest of the namespace stays isolated as before.
    for name, labels in pods.items():
        assert ingress_rules(labels), f"no policy selects {name}'s pods"


def test_no_container_is_privileged_and_only_jail_hosts_leave_the_defaults(
    rendered: list[Doc],
) -> None:
    # What `baseline` lets a container add: the runtimes' defaults.
    defaults = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
                "NET_BIND_SERVICE", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP"}  # fmt: skip
    unconfined = set()
    for name, workload in workloads(rendered).items():
        pod = workload["spec"]["template"]["spec"]
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), name
        assert not any("hostPath" in v for v in pod.get("volumes", [])), name
        pod_context = pod.get("securityContext", {})
        for container in containers(pod):
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("privileged") is not True, (name, container["name"])
            assert set(context.get("capabilities", {}).get("add", [])) <= defaults, name
            if (
                context.get("seccompProfile", {}).get("type") == "Unconfined"
                or context.get("appArmorProfile", {}).get("type") == "Unconfined"
                or context.get("procMount") == "Unmasked"
            ):
                # Unconfined only where root is an unprivileged uid on the node.
                assert pod.get("hostUsers") is False, name
                unconfined.add(name)
    assert unconfined == JAIL_HOSTS


def test_jail_hosts_lease_uids_their_user_namespace_has_and_run_under_tini(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in JAIL_HOSTS:
        pod = workloads(rendered)[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        with monkeypatch.context() as env:
            config_env(rendered, env, container)
            jails = jail_config()
        assert jails.uid_base + jails.uid_count <= POD_UIDS, name
        # PID 1 reaps what ended jails leave behind: the app's own processes do not.
        assert container["command"][0] == "tini", name


def test_a_daemon_takes_as_many_shells_as_its_memory_is_sized_for(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    container = daemon_container(rendered)
    config_env(rendered, monkeypatch, container)
    shells = terminal_config().max_sessions
    assert shells >= 300
    request = container["resources"]["requests"]["memory"]
    assert request.endswith("Gi")
    assert int(request[:-2]) * 1024 >= shells * SHELL_PSS_MIB


def psa_checks(why: str) -> set[str]:
    """The checks a Pod Security refusal names: `check (details), check (details)`."""
    names, depth, start = set(), 0, 0
    for at, char in enumerate(why):
        if char == "(":
            if depth == 0:
                names.add(why[start:at].strip(" ,"))
            depth += 1
        elif char == ")":
            depth -= 1
            start = at + 1 if depth == 0 else start
    return names


def _pods_of_the_workloads(docs: list[Doc], namespace: str) -> str:
    pods = []
    for name, workload in workloads(docs).items():
        spec = dict(workload["spec"]["template"]["spec"])
        spec.pop("serviceAccountName", None)  # not made in the throwaway namespace; no matter here
        # A StatefulSet's claims become volumes only in its own pods; an emptyDir stands in.
        claims = workload["spec"].get("volumeClaimTemplates", [])
        stand_ins = [{"name": claim["metadata"]["name"], "emptyDir": {}} for claim in claims]
        spec["volumes"] = [*spec.get("volumes", []), *stand_ins]
        pods.append({"apiVersion": "v1", "kind": "Pod", "spec": spec,
                     "metadata": {"name": name, "namespace": namespace}})  # fmt: skip
    return yaml.safe_dump_all(pods)


@pytest.mark.cluster
def test_baseline_refuses_only_the_jail_hosts_profiles_and_web_passes_restricted(
    cluster: Any, rendered: list[Doc]
) -> None:
    """Each workload's pod, server dry run, under `baseline` and `restricted` enforcement."""
    kubectl = [str(cluster.kubectl_path), "--kubeconfig", str(cluster.kubeconfig)]
    outcome: dict[str, tuple[set[str], dict[str, set[str]]]] = {}
    for level in ("baseline", "restricted"):
        namespace = f"kubelab-psa-{level}-{secrets.token_hex(3)}"
        labels = {"pod-security.kubernetes.io/enforce": level}
        made = subprocess.run(
            [*kubectl, "create", "-f", "-"],
            input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": namespace, "labels": labels}}),
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        try:
            dry = subprocess.run(
                [*kubectl, "create", "--dry-run=server", "-o", "name", "-f", "-"],
                input=_pods_of_the_workloads(rendered, namespace),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        finally:
            subprocess.run([*kubectl, "delete", "namespace", namespace, "--wait=false"],
                           capture_output=True, timeout=30)  # fmt: skip
        admitted = {line.removeprefix("pod/") for line in dry.stdout.split()}
        refused = {
            match["pod"]: psa_checks(match["why"])
            for match in re.finditer(
                rf'pods "(?P<pod>[^"]+)" is forbidden: violates PodSecurity "{level}:latest": '
                r"(?P<why>.*)",
                dry.stderr,
            )
        }
        assert admitted | set(refused) == set(workloads(rendered)), dry.stderr
        outcome[level] = admitted, refused
    admitted, refused = outcome["baseline"]
    assert admitted == set(workloads(rendered)) - JAIL_HOSTS
    for name in JAIL_HOSTS:
        assert refused[name] == {"seccompProfile", "forbidden AppArmor profile"}, refused
    assert "web" in outcome["restricted"][0], outcome["restricted"][1].get("web")
