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
    _p("other-ns", "list pods", "get pods -n {other}"),
    _p("other-ns", "get a pod", "get pod {other_pod} -n {other}"),
    _p(
        "other-ns",
        "watch pods",
        "get --raw /api/v1/namespaces/{other}/pods?watch=1&timeoutSeconds=1",
    ),
    _p("other-ns", "create a pod", "run intruder --image=nginx -n {other}"),
    _p("other-ns", "delete a pod", "delete pod {other_pod} -n {other} --wait=false"),
    _p("other-ns", "label a pod", "label pod {other_pod} -n {other} pwned=yes"),
    _p("other-ns", "logs of a pod", "logs {other_pod} -n {other}"),
    _p("other-ns", "exec into a pod", "exec {other_pod} -n {other} -- true"),
    _p(
        "other-ns",
        "port-forward to a pod",
        "port-forward pod/{other_pod} -n {other} --address 127.0.0.1 0:80",
    ),
    _p("other-ns", "list deployments", "get deployments -n {other}"),
    _p("other-ns", "create a deployment", "create deployment x --image=nginx -n {other}"),
    _p("other-ns", "scale a deployment", "scale deployment {other_deploy} --replicas=5 -n {other}"),
    _p("other-ns", "delete a deployment", "delete deployment {other_deploy} -n {other}"),
    _p("other-ns", "list replicasets", "get replicasets -n {other}"),
    _p("other-ns", "list services", "get services -n {other}"),
    _p("other-ns", "delete a service", "delete service {other_svc} -n {other}"),
    _p("other-ns", "list configmaps", "get configmaps -n {other}"),
    _p("other-ns", "read a configmap", "get configmap {other_cm} -n {other}"),
    _p("other-ns", "create a configmap", "create configmap x -n {other}"),
    _p("other-ns", "list events", "get events -n {other}"),
    _p("other-ns", "list jobs", "get jobs -n {other}"),
    _p("other-ns", "list hpas", "get hpa -n {other}"),
    _p("other-ns", "list endpoints", "get endpoints -n {other}"),
    _p("other-ns", "read its quota", "get resourcequota -n {other}"),
    _p("other-ns", "read the namespace", "get namespace {other}"),
    _p("other-ns", "delete the namespace", "delete namespace {other} --wait=false"),
    _p("other-ns", "list its serviceaccounts", "get serviceaccounts -n {other}"),
    _p("other-ns", "list its rolebindings", "get rolebindings -n {other}"),
    _p("other-ns", "token for its learner", "create token learner -n {other}"),
    _p(
        "other-ns",
        "act as its learner",
        "get pods -n {other} --as=system:serviceaccount:{other}:learner",
    ),
    # --- kube-system: read some, change nothing ------------------------------------------
    _p("kube-system", "list secrets", "get secrets -n kube-system"),
    _p("kube-system", "list configmaps", "get configmaps -n kube-system"),
    _p("kube-system", "create a pod", "run intruder --image=nginx -n kube-system"),
    _p("kube-system", "delete coredns", "delete deployment coredns -n kube-system --wait=false"),
    _p("kube-system", "scale coredns", "scale deployment coredns --replicas=0 -n kube-system"),
    _p("kube-system", "label its pods", "label pods --all -n kube-system pwned=yes"),
    _p("kube-system", "create a configmap", "create configmap x -n kube-system"),
    _p("kube-system", "delete kube-dns", "delete service kube-dns -n kube-system"),
    _p("kube-system", "exec into coredns", "exec deploy/coredns -n kube-system -- true"),
    _p("kube-system", "coredns logs", "logs deploy/coredns -n kube-system"),
    _p("kube-system", "token for coredns", "create token coredns -n kube-system"),
    _p("kube-system", "list serviceaccounts", "get serviceaccounts -n kube-system"),
    _p("kube-system", "list roles", "get roles -n kube-system"),
    # --- secrets anywhere (the learner has no secrets rights at all) ----------------------
    _p("secrets", "list in every namespace", "get secrets -A"),
    _p("secrets", "list in default", "get secrets -n default"),
    _p(
        "secrets",
        "create in the other namespace",
        "create secret generic s --from-literal=a=b -n {other}",
    ),
    _p("secrets", "list in own namespace", "get secrets"),
    _p("secrets", "create in own namespace", "create secret generic s --from-literal=a=b"),
    # --- nodes: read, never write ----------------------------------------------------------
    _p("nodes", "label a node", "label node worker-3 pwned=yes"),
    _p("nodes", "cordon a node", "cordon worker-1"),
    _p("nodes", "taint a node", "taint node worker-2 pwned=yes:NoSchedule"),
    _p("nodes", "delete a node", "delete node worker-4 --wait=false"),
    _p("nodes", "proxy to a node's kubelet", "get --raw /api/v1/nodes/worker-1/proxy/healthz"),
    _manifest(
        "nodes", "create a node", "apiVersion: v1\nkind: Node\nmetadata: {name: rogue}\n", "default"
    ),
    # --- namespaces ----------------------------------------------------------------------
    _p("namespaces", "list namespaces", "get namespaces"),
    _p("namespaces", "create a namespace", "create namespace rogue"),
    _p("namespaces", "delete own namespace", "delete namespace {own} --wait=false"),
    _p(
        "namespaces",
        "lift own pod security",
        "label namespace {own} pod-security.kubernetes.io/enforce=privileged --overwrite",
    ),
    _p("namespaces", "read default", "get namespace default"),
    # --- RBAC escalation -----------------------------------------------------------------
    _p(
        "rbac",
        "bind cluster-admin cluster-wide",
        "create clusterrolebinding pwn --clusterrole=cluster-admin --serviceaccount={own}:learner",
    ),
    _p(
        "rbac",
        "bind cluster-admin in own namespace",
        "create rolebinding pwn --clusterrole=cluster-admin --serviceaccount={own}:learner",
    ),
    _p(
        "rbac",
        "bind admin in own namespace",
        "create rolebinding pwn --clusterrole=admin --serviceaccount={own}:learner",
    ),
    _p("rbac", "create a clusterrole", "create clusterrole pwn --verb=get --resource=secrets"),
    _p("rbac", "create a role", "create role pwn --verb=get --resource=secrets"),
    _p(
        "rbac",
        "grant own role secrets",
        "patch role kubelab-learner --type=json -p "
        '[{"op":"add","path":"/rules/0/resources/-","value":"secrets"}]',
    ),
    _p("rbac", "delete own rolebinding", "delete rolebinding kubelab-learner"),
    _p("rbac", "list clusterroles", "get clusterroles"),
    _p("rbac", "list clusterrolebindings", "get clusterrolebindings"),
    # --- impersonation -------------------------------------------------------------------
    _p("impersonate", "as system:admin", "get pods --as=system:admin"),
    _p("impersonate", "as system:masters", "get pods --as=someone --as-group=system:masters"),
    _p(
        "impersonate",
        "as kube-system's default SA",
        "get pods --as=system:serviceaccount:kube-system:default",
    ),
    # --- tokens ----------------------------------------------------------------------------
    _p("tokens", "token for own default SA", "create token default"),
    _p("tokens", "another token for itself", "create token learner"),
    _p("tokens", "create a serviceaccount", "create serviceaccount extra"),
    # --- certificates ----------------------------------------------------------------------
    _p("csr", "list CSRs", "get certificatesigningrequests"),
    _manifest(
        "csr",
        "create a CSR",
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\n"
        "metadata: {name: pwn}\nspec: {request: AA==, usages: [client auth],"
        " signerName: kubernetes.io/kube-apiserver-client}\n",
    ),
    _p("csr", "approve a CSR", "certificate approve pwn"),
    # --- admission control -------------------------------------------------------------------
    _p("admission", "list validating webhooks", "get validatingwebhookconfigurations"),
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
    _p("own-ns", "delete own quota", "delete resourcequota kubelab-quota"),
    _p(
        "own-ns",
        "raise own quota",
        'patch resourcequota kubelab-quota -p {"spec":{"hard":{"pods":"1000"}}}',
    ),
    _p("own-ns", "delete own limitrange", "delete limitrange kubelab-defaults"),
    _p("own-ns", "delete own network policy", "delete networkpolicy kubelab-same-namespace-only"),
    _p("own-ns", "proxy to a pod", "get --raw /api/v1/namespaces/{own}/pods/{own_pod}/proxy/"),
    _p(
        "own-ns",
        "proxy to a service",
        "get --raw /api/v1/namespaces/{own}/services/{own_svc}/proxy/",
    ),
)

# In order: later probes use what earlier ones made.
ALLOWED: tuple[Probe, ...] = (
    _p("own-ns", "run a pod", "run {own_pod} --image=nginx", "allowed"),
    _p("own-ns", "list pods", "get pods", "allowed"),
    _p(
        "own-ns",
        "watch pods",
        "get --raw /api/v1/namespaces/{own}/pods?watch=1&timeoutSeconds=1",
        "allowed",
    ),
    _p("own-ns", "label a pod", "label pod {own_pod} color=red", "allowed"),
    _p("own-ns", "annotate a pod", "annotate pod {own_pod} note=hi", "allowed"),
    _p("own-ns", "logs", "logs {own_pod}", "authorized"),
    _p("own-ns", "exec", "exec {own_pod} -- true", "authorized"),
    _p(
        "own-ns",
        "port-forward",
        "port-forward pod/{own_pod} --address 127.0.0.1 0:80",
        "authorized",
        long_running=True,
    ),
    _p(
        "own-ns",
        "create a deployment",
        "create deployment web --image=nginx --replicas=2",
        "allowed",
    ),
    _p("own-ns", "scale it", "scale deployment web --replicas=3", "allowed"),
    _p("own-ns", "set its image", "set image deployment/web nginx=nginx:1.27", "allowed"),
    _p("own-ns", "restart its rollout", "rollout restart deployment web", "allowed"),
    _p("own-ns", "rollout history", "rollout history deployment web", "allowed"),
    _p("own-ns", "label it", "label deployment web canary=true", "allowed"),
    _p("own-ns", "expose it", "expose deployment web --name={own_svc} --port=80", "allowed"),
    _p("own-ns", "read endpoints", "get endpoints {own_svc}", "allowed"),
    _p("own-ns", "read endpointslices", "get endpointslices", "allowed"),
    _p("own-ns", "autoscale it", "autoscale deployment web --min=2 --max=4 --cpu=80", "allowed"),
    _p("own-ns", "create a configmap", "create configmap settings --from-literal=a=b", "allowed"),
    _p("own-ns", "create a job", "create job once --image=busybox", "allowed"),
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
    _p("own-ns", "list everything", "get all", "allowed"),
    _p("own-ns", "describe a deployment", "describe deployment web", "allowed"),
    _p("own-ns", "read events", "get events", "allowed"),
    _p("own-ns", "describe own quota", "describe resourcequota kubelab-quota", "allowed"),
    _p("own-ns", "read own namespace", "get namespace {own}", "allowed"),
    _p("own-ns", "delete the daemonset", "delete daemonset agent", "allowed"),
    _p("own-ns", "delete the job", "delete job once", "allowed"),
    _p("own-ns", "delete the hpa", "delete hpa web", "allowed"),
    _p("own-ns", "delete the service", "delete service {own_svc}", "allowed"),
    _p("own-ns", "delete the deployment", "delete deployment web", "allowed"),
    _p("own-ns", "delete the configmap", "delete configmap settings", "allowed"),
    _p("cluster-read", "list nodes", "get nodes", "allowed"),
    _p("cluster-read", "describe a node", "describe node worker-1", "allowed"),
    _p("cluster-read", "nodes with ssd=true", "get nodes -l ssd=true", "allowed"),
    _p("cluster-read", "component statuses", "get componentstatuses", "allowed"),
    _p("cluster-read", "API server health", "get --raw /readyz", "allowed"),
    _p("cluster-read", "cluster-info", "cluster-info", "allowed"),
    _p("kube-system", "list pods", "get pods -n kube-system", "allowed"),
    _p(
        "kube-system",
        "list deployments, services",
        "get deployments,services -n kube-system",
        "allowed",
    ),
    _p("kube-system", "list daemonsets", "get daemonsets -n kube-system", "allowed"),
    _p("kube-system", "describe coredns", "describe deployment coredns -n kube-system", "allowed"),
    _p("own-ns", "delete the pod", "delete pod {own_pod} --wait=false", "allowed"),
)
