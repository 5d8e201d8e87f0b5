"""The isolation matrix as data: what a learner's token tries, and what must happen.

Each probe is a real kubectl request made with the learner's own kubeconfig (the one
`sandbox_kubeconfig` hands to their shell). `{own}` is the learner's namespace, `{other}` another
learner's, `{other_pod}`... objects that exist there. Expectations:

- ``denied``: the API server refuses it (RBAC, Pod Security or quota admission: "Forbidden");
- ``allowed``: it succeeds;
- ``authorized``: the API server let it through; what answers behind it (kwok's simulated
  kubelet for logs/exec/port-forward) may still fail, but never with "Forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    area: str
    name: str
    args: tuple[str, ...]
    expect: str
    stdin: str | None = None
    # Commands that keep running when they succeed (port-forward): a timeout means "authorized".
    long_running: bool = False


def _p(area: str, name: str, command: str, expect: str = "denied", **kw: object) -> Probe:
    return Probe(area, name, tuple(command.split()), expect, **kw)  # type: ignore[arg-type]


def _probes(area: str, *rows: tuple[str, str], expect: str = "denied") -> tuple[Probe, ...]:
    """One area's probes from (name, command) rows."""
    return tuple(_p(area, name, command, expect) for name, command in rows)


def _manifest(area: str, name: str, yaml: str, namespace: str = "{own}") -> Probe:
    return Probe(
        area, name, ("create", "--validate=false", "-n", namespace, "-f", "-"), "denied", yaml
    )


POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  {extra}
  containers: [{{name: c, image: nginx{container}}}]
"""


def _pod(name: str, extra: str = "{}", container: str = "") -> str:
    return POD.format(name=name, extra=extra if extra != "{}" else "", container=container)


DENIED: tuple[Probe, ...] = (
    # --- another learner's namespace: nothing at all -------------------------------------
    *_probes(
        "other-ns",
        ("list pods", "get pods -n {other}"),
        ("get a pod", "get pod {other_pod} -n {other}"),
        ("watch pods", "get --raw /api/v1/namespaces/{other}/pods?watch=1&timeoutSeconds=1"),
        ("create a pod", "run intruder --image=nginx -n {other}"),
        ("delete a pod", "delete pod {other_pod} -n {other} --wait=false"),
        ("label a pod", "label pod {other_pod} -n {other} pwned=yes"),
        ("logs of a pod", "logs {other_pod} -n {other}"),
        ("exec into a pod", "exec {other_pod} -n {other} -- true"),
        (
            "resize a pod",
            "patch pod {other_pod} -n {other} --subresource resize -p "
            '{"spec":{"containers":[{"name":"{other_pod}","resources":{"requests":{"cpu":"20m"}}}]}}',
        ),
        (
            "port-forward to a pod",
            "port-forward pod/{other_pod} -n {other} --address 127.0.0.1 0:80",
        ),
        ("list deployments", "get deployments -n {other}"),
        ("create a deployment", "create deployment x --image=nginx -n {other}"),
        ("scale a deployment", "scale deployment {other_deploy} --replicas=5 -n {other}"),
        ("delete a deployment", "delete deployment {other_deploy} -n {other}"),
        ("list replicasets", "get replicasets -n {other}"),
        ("list services", "get services -n {other}"),
        ("delete a service", "delete service {other_svc} -n {other}"),
        ("list configmaps", "get configmaps -n {other}"),
        ("read a configmap", "get configmap {other_cm} -n {other}"),
        ("create a configmap", "create configmap x -n {other}"),
        ("list events", "get events -n {other}"),
        ("list jobs", "get jobs -n {other}"),
        ("list hpas", "get hpa -n {other}"),
        ("list endpoints", "get endpoints -n {other}"),
        ("read its quota", "get resourcequota -n {other}"),
        ("read the namespace", "get namespace {other}"),
        ("delete the namespace", "delete namespace {other} --wait=false"),
        ("list its serviceaccounts", "get serviceaccounts -n {other}"),
        ("list its rolebindings", "get rolebindings -n {other}"),
        ("token for its learner", "create token learner -n {other}"),
        ("act as its learner", "get pods -n {other} --as=system:serviceaccount:{other}:learner"),
    ),
    # --- kube-system: read some, change nothing ------------------------------------------
    *_probes(
        "kube-system",
        ("list secrets", "get secrets -n kube-system"),
        ("list configmaps", "get configmaps -n kube-system"),
        ("create a pod", "run intruder --image=nginx -n kube-system"),
        ("delete coredns", "delete deployment coredns -n kube-system --wait=false"),
        ("scale coredns", "scale deployment coredns --replicas=0 -n kube-system"),
        ("label its pods", "label pods --all -n kube-system pwned=yes"),
        ("create a configmap", "create configmap x -n kube-system"),
        ("delete kube-dns", "delete service kube-dns -n kube-system"),
        ("exec into coredns", "exec deploy/coredns -n kube-system -- true"),
        ("coredns logs", "logs deploy/coredns -n kube-system"),
        ("token for coredns", "create token coredns -n kube-system"),
        ("list serviceaccounts", "get serviceaccounts -n kube-system"),
        ("list roles", "get roles -n kube-system"),
    ),
    # --- secrets anywhere (the learner has no secrets rights at all) ----------------------
    *_probes(
        "secrets",
        ("list in every namespace", "get secrets -A"),
        ("list in default", "get secrets -n default"),
        ("create in the other namespace", "create secret generic s --from-literal=a=b -n {other}"),
        ("list in own namespace", "get secrets"),
        ("create in own namespace", "create secret generic s --from-literal=a=b"),
    ),
    # --- nodes: read, never write ----------------------------------------------------------
    *_probes(
        "nodes",
        ("label a node", "label node worker-3 pwned=yes"),
        ("cordon a node", "cordon worker-1"),
        ("taint a node", "taint node worker-2 pwned=yes:NoSchedule"),
        ("delete a node", "delete node worker-4 --wait=false"),
        ("proxy to a node's kubelet", "get --raw /api/v1/nodes/worker-1/proxy/healthz"),
    ),
    _manifest(
        "nodes", "create a node", "apiVersion: v1\nkind: Node\nmetadata: {name: rogue}\n", "default"
    ),
    # --- namespaces ----------------------------------------------------------------------
    *_probes(
        "namespaces",
        ("list namespaces", "get namespaces"),
        ("create a namespace", "create namespace rogue"),
        ("delete own namespace", "delete namespace {own} --wait=false"),
        (
            "lift own pod security",
            "label namespace {own} pod-security.kubernetes.io/enforce=privileged --overwrite",
        ),
        ("read default", "get namespace default"),
    ),
    # --- RBAC escalation -----------------------------------------------------------------
    *_probes(
        "rbac",
        (
            "bind cluster-admin cluster-wide",
            "create clusterrolebinding pwn --clusterrole=cluster-admin "
            "--serviceaccount={own}:learner",
        ),
        (
            "bind cluster-admin in own namespace",
            "create rolebinding pwn --clusterrole=cluster-admin --serviceaccount={own}:learner",
        ),
        (
            "bind admin in own namespace",
            "create rolebinding pwn --clusterrole=admin --serviceaccount={own}:learner",
        ),
        ("create a clusterrole", "create clusterrole pwn --verb=get --resource=secrets"),
        ("create a role", "create role pwn --verb=get --resource=secrets"),
        (
            "grant own role secrets",
            "patch role kubelab-learner --type=json -p "
            '[{"op":"add","path":"/rules/0/resources/-","value":"secrets"}]',
        ),
        ("delete own rolebinding", "delete rolebinding kubelab-learner"),
        ("list clusterroles", "get clusterroles"),
        ("list clusterrolebindings", "get clusterrolebindings"),
    ),
    # --- impersonation -------------------------------------------------------------------
    *_probes(
        "impersonate",
        ("as system:admin", "get pods --as=system:admin"),
        ("as system:masters", "get pods --as=someone --as-group=system:masters"),
        ("as kube-system's default SA", "get pods --as=system:serviceaccount:kube-system:default"),
    ),
    # --- tokens ----------------------------------------------------------------------------
    *_probes(
        "tokens",
        ("token for own default SA", "create token default"),
        ("another token for itself", "create token learner"),
        ("create a serviceaccount", "create serviceaccount extra"),
    ),
    # --- certificates ----------------------------------------------------------------------
    *_probes(
        "csr",
        ("list CSRs", "get certificatesigningrequests"),
    ),
    _manifest(
        "csr",
        "create a CSR",
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\n"
        "metadata: {name: pwn}\nspec: {request: AA==, usages: [client auth],"
        " signerName: kubernetes.io/kube-apiserver-client}\n",
    ),
    *_probes(
        "csr",
        ("approve a CSR", "certificate approve pwn"),
    ),
    # --- admission control -------------------------------------------------------------------
    *_probes(
        "admission",
        ("list validating webhooks", "get validatingwebhookconfigurations"),
    ),
    _manifest(
        "admission",
        "create a validating webhook",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
        "metadata: {name: pwn}\nwebhooks: []\n",
    ),
    _manifest(
        "admission",
        "create a mutating webhook",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\n"
        "metadata: {name: pwn}\nwebhooks: []\n",
    ),
    _manifest(
        "admission",
        "create an admission policy",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
        "metadata: {name: pwn}\nspec: {validations: [{expression: 'false'}]}\n",
    ),
    # --- other cluster-scoped objects -----------------------------------------------------------
    _manifest(
        "cluster",
        "create a CRD",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: pwns.kubelab.dev}\nspec: {}\n",
    ),
    _manifest(
        "cluster",
        "create a persistent volume",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pwn}\n"
        "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /}}\n",
    ),
    _manifest(
        "cluster",
        "create a priority class",
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: pwn}\n"
        "value: 1000000000\n",
    ),
    # --- own namespace: what stays off limits even at home -------------------------------------
    _manifest(
        "own-ns",
        "privileged pod",
        _pod("priv", container=", securityContext: {privileged: true}"),
    ),
    _manifest(
        "own-ns",
        "hostPath + hostNetwork pod",
        _pod(
            "hostpath",
            extra="hostNetwork: true\n  volumes: [{name: h, hostPath: {path: /}}]",
            container=", volumeMounts: [{name: h, mountPath: /h}]",
        ),
    ),
    _manifest(
        "own-ns",
        "pod at system-node-critical priority",
        _pod("crit", extra="priorityClassName: system-node-critical"),
    ),
    _manifest(
        "own-ns",
        "hand-written endpoints",
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: sneaky}\n"
        "subsets: [{addresses: [{ip: 10.244.1.5}], ports: [{port: 80}]}]\n",
    ),
    *_probes(
        "own-ns",
        ("delete own quota", "delete resourcequota kubelab-quota"),
        (
            "raise own quota",
            'patch resourcequota kubelab-quota -p {"spec":{"hard":{"pods":"1000"}}}',
        ),
        ("delete own limitrange", "delete limitrange kubelab-defaults"),
        ("delete own network policy", "delete networkpolicy kubelab-same-namespace-only"),
        ("proxy to a pod", "get --raw /api/v1/namespaces/{own}/pods/{own_pod}/proxy/"),
        ("proxy to a service", "get --raw /api/v1/namespaces/{own}/services/{own_svc}/proxy/"),
    ),
)

# In order: later probes use what earlier ones made.
ALLOWED: tuple[Probe, ...] = (
    *_probes(
        "own-ns",
        ("run a pod", "run {own_pod} --image=nginx"),
        ("list pods", "get pods"),
        ("watch pods", "get --raw /api/v1/namespaces/{own}/pods?watch=1&timeoutSeconds=1"),
        ("label a pod", "label pod {own_pod} color=red"),
        ("annotate a pod", "annotate pod {own_pod} note=hi"),
        (
            "resize a pod in place",
            "patch pod {own_pod} --subresource resize -p "
            '{"spec":{"containers":[{"name":"{own_pod}","resources":{"requests":{"cpu":"20m"}}}]}}',
        ),
        expect="allowed",
    ),
    *_probes(
        "own-ns",
        ("logs", "logs {own_pod}"),
        ("exec", "exec {own_pod} -- true"),
        expect="authorized",
    ),
    _p(
        "own-ns",
        "port-forward",
        "port-forward pod/{own_pod} --address 127.0.0.1 0:80",
        "authorized",
        long_running=True,
    ),
    *_probes(
        "own-ns",
        ("create a deployment", "create deployment web --image=nginx --replicas=2"),
        ("scale it", "scale deployment web --replicas=3"),
        ("set its image", "set image deployment/web nginx=nginx:1.27"),
        ("restart its rollout", "rollout restart deployment web"),
        ("rollout history", "rollout history deployment web"),
        ("label it", "label deployment web canary=true"),
        ("expose it", "expose deployment web --name={own_svc} --port=80"),
        ("read endpoints", "get endpoints {own_svc}"),
        ("read endpointslices", "get endpointslices"),
        ("autoscale it", "autoscale deployment web --min=2 --max=4 --cpu=80"),
        ("create a configmap", "create configmap settings --from-literal=a=b"),
        ("create a job", "create job once --image=busybox"),
        expect="allowed",
    ),
    Probe(
        "own-ns",
        "create a daemonset",
        ("apply", "-f", "-"),
        "allowed",
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n"
        "  selector: {matchLabels: {app: agent}}\n  template:\n"
        "    metadata: {labels: {app: agent}}\n"
        "    spec: {nodeSelector: {ssd: 'true'}, containers: [{name: a, image: nginx}]}\n",
    ),
    *_probes(
        "own-ns",
        ("list everything", "get all"),
        ("describe a deployment", "describe deployment web"),
        ("read events", "get events"),
        ("describe own quota", "describe resourcequota kubelab-quota"),
        ("read own namespace", "get namespace {own}"),
        ("delete the daemonset", "delete daemonset agent"),
        ("delete the job", "delete job once"),
        ("delete the hpa", "delete hpa web"),
        ("delete the service", "delete service {own_svc}"),
        ("delete the deployment", "delete deployment web"),
        ("delete the configmap", "delete configmap settings"),
        expect="allowed",
    ),
    *_probes(
        "cluster-read",
        ("list nodes", "get nodes"),
        ("describe a node", "describe node worker-1"),
        ("nodes with ssd=true", "get nodes -l ssd=true"),
        ("component statuses", "get componentstatuses"),
        ("API server health", "get --raw /readyz"),
        ("cluster-info", "cluster-info"),
        expect="allowed",
    ),
    *_probes(
        "kube-system",
        ("list pods", "get pods -n kube-system"),
        ("list deployments, services", "get deployments,services -n kube-system"),
        ("list daemonsets", "get daemonsets -n kube-system"),
        ("describe coredns", "describe deployment coredns -n kube-system"),
        expect="allowed",
    ),
    *_probes(
        "own-ns",
        ("delete the pod", "delete pod {own_pod} --wait=false"),
        expect="allowed",
    ),
)
