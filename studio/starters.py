# ruff: noqa: RUF001, E501 - lab text in Traditional Chinese (full-width punctuation) and YAML lines
"""Starter labs, one per family of checks (pure): each validates from the first keystroke and
passes its own content test, so an author changes a working lab instead of facing an empty page.
``tests/studio/test_starters.py`` holds every one of them to that."""

from __future__ import annotations

from dataclasses import dataclass

from labs.messages import gettext_noop as _


@dataclass(frozen=True)
class Starter:
    key: str
    title: str  # what the "new lab" form lists: a message id the page translates
    spec: str
    files: dict[str, str]


_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
    - name: web
      image: gcr.io/kuar-demo/kuard-amd64:blue
      ports:
        - containerPort: 8080
          name: http
"""

_HEADER = """\
title:
  en: "{title}"
  zh-hant: "{title_zh}"
chapter: {chapter}
order: 50
summary:
  en: Write one sentence on what the learner practises here.
  zh-hant: 用一句話說明學員在這裡練習什麼。
solution_policy:
  show: after-checks
  checks: 3

exercises:
"""

POD_FIELDS = Starter(
    "pod",
    _("A Pod and its fields (exists, field, ready)"),
    _HEADER.format(title="My Pod lab", title_zh="我的 Pod 練習", chapter="pods")
    + """\
  - id: web-pod
    title:
      en: Run a Pod named web
      zh-hant: 執行名為 web 的 Pod
    instructions:
      en: |
        Write `web-pod.yaml`: a Pod named **web** running `gcr.io/kuar-demo/kuard-amd64:blue`,
        with container port **8080** named `http`. Apply it and wait until it is Running.
      zh-hant: |
        撰寫 `web-pod.yaml`：一個名為 **web** 的 Pod，執行 `gcr.io/kuar-demo/kuard-amd64:blue`，
        容器連接埠 **8080**，名稱 `http`。套用它並等到它進入 Running。
    hints:
      - en: "`kubectl run web --image=... --dry-run=client -o yaml` prints a Pod to start from."
        zh-hant: "`kubectl run web --image=... --dry-run=client -o yaml` 會印出一個可以當起點的 Pod。"
    checks:
      - id: exists
        type: exists
        kind: Pod
        name: web
      - id: image
        type: field
        kind: Pod
        name: web
        path: .spec.containers[0].image
        equals: gcr.io/kuar-demo/kuard-amd64:blue
      - id: port
        type: field
        kind: Pod
        name: web
        path: .spec.containers[0].ports
        contains: {containerPort: 8080, name: http}
      - id: running
        type: ready
        kind: Pod
        name: web
    solution:
      files: [web-pod.yaml]
      commands:
        - kubectl apply -f web-pod.yaml
    near_misses:
      - id: wrong-image
        description: The green image instead of blue.
        commands:
          - kubectl run web --image=gcr.io/kuar-demo/kuard-amd64:green --port=8080
        fails: [image]
""",
    {"web-pod.yaml": _POD},
)

LABELS = Starter(
    "labels",
    _("Labels and a Service's selector (label, service_selects)"),
    _HEADER.format(title="My labels lab", title_zh="我的 label 練習", chapter="labels-annotations")
    + """\
  - id: select-web
    title:
      en: Select the web Pod with a Service
      zh-hant: 用 Service 選到 web Pod
    instructions:
      en: |
        Run the Pod in `web-pod.yaml`, then make a Service named **web** whose selector
        picks exactly that Pod (`app=web`).
      zh-hant: |
        執行 `web-pod.yaml` 裡的 Pod，再建立名為 **web** 的 Service，它的 selector 剛好選到那個
        Pod（`app=web`）。
    hints:
      - en: "`kubectl expose pod web --port=8080` copies the Pod's labels into the selector."
        zh-hant: "`kubectl expose pod web --port=8080` 會把 Pod 的 label 複製到 selector。"
    checks:
      - id: labelled
        type: label
        kind: Pod
        name: web
        key: app
        equals: web
      - id: selects
        type: service_selects
        service: web
        pods: app=web
    setup:
      files: [web-pod.yaml]
      commands:
        - kubectl apply -f web-pod.yaml
    solution:
      commands:
        - kubectl expose pod web --port=8080
    near_misses:
      - id: wrong-selector
        description: A Service that selects a label no Pod has.
        commands:
          - kubectl create service clusterip web --tcp=8080:8080
        fails: [selects]
""",
    {"web-pod.yaml": _POD},
)

REPLICAS = Starter(
    "replicas",
    _("A Deployment and its ReplicaSet (ready, count, owner)"),
    _HEADER.format(title="My replicas lab", title_zh="我的副本練習", chapter="replicasets")
    + """\
  - id: three-replicas
    title:
      en: Keep three web Pods running
      zh-hant: 讓三個 web Pod 持續執行
    instructions:
      en: |
        Create a Deployment named **web** with **3** replicas of
        `gcr.io/kuar-demo/kuard-amd64:blue`, and wait until all three are ready.
      zh-hant: |
        建立名為 **web** 的 Deployment，以 `gcr.io/kuar-demo/kuard-amd64:blue` 執行 **3** 個副本，
        並等到三個都就緒。
    checks:
      - id: rolled-out
        type: ready
        kind: Deployment
        name: web
        replicas: 3
      - id: three-pods
        type: count
        kind: Pod
        selector: app=web
        equals: 3
      - id: owned
        type: owner
        kind: Pod
        selector: app=web
        owner: {kind: Deployment, name: web}
    solution:
      commands:
        - kubectl create deployment web --image=gcr.io/kuar-demo/kuard-amd64:blue --replicas=3
    near_misses:
      - id: one-replica
        description: The default single replica.
        commands:
          - kubectl create deployment web --image=gcr.io/kuar-demo/kuard-amd64:blue
        fails: [rolled-out, three-pods]
""",
    {},
)

JOB = Starter(
    "job",
    _("A Job that runs to completion (job)"),
    _HEADER.format(title="My Job lab", title_zh="我的 Job 練習", chapter="jobs")
    + """\
  - id: oneshot
    title:
      en: Run a Job once to completion
      zh-hant: 執行一次完成的 Job
    instructions:
      en: |
        Create a Job named **once** that runs `gcr.io/kuar-demo/kuard-amd64:blue` with
        `--keygen-enable --keygen-exit-on-complete --keygen-num-to-gen=5`, and let it finish.
      zh-hant: |
        建立名為 **once** 的 Job，執行 `gcr.io/kuar-demo/kuard-amd64:blue` 並帶上
        `--keygen-enable --keygen-exit-on-complete --keygen-num-to-gen=5`，讓它執行完畢。
    checks:
      - id: completed
        type: job
        name: once
        succeeded: 1
    solution:
      files: [job-once.yaml]
      commands:
        - kubectl apply -f job-once.yaml
        - kubectl wait --for=condition=Complete job/once --timeout=60s
    near_misses:
      - id: bare-pod
        description: A bare Pod is not a Job.
        commands:
          - kubectl run once --image=gcr.io/kuar-demo/kuard-amd64:blue --restart=Never
        fails: [completed]
""",
    {
        "job-once.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      containers:
        - name: kuard
          image: gcr.io/kuar-demo/kuard-amd64:blue
          args:
            - "--keygen-enable"
            - "--keygen-exit-on-complete"
            - "--keygen-num-to-gen=5"
      restartPolicy: OnFailure
""",
    },
)

PLACEMENT = Starter(
    "placement",
    _("Pods placed on labelled nodes (pods_on_nodes)"),
    _HEADER.format(title="My placement lab", title_zh="我的排程練習", chapter="daemonsets")
    + """\
  - id: on-ssd-nodes
    title:
      en: One Pod on every ssd node
      zh-hant: 每個 ssd node 上一個 Pod
    instructions:
      en: |
        Apply `fast-ds.yaml` after giving its Pod template a `nodeSelector` of `ssd: "true"`,
        so exactly one Pod runs on each node labelled `ssd=true` and none elsewhere.
      zh-hant: |
        在 `fast-ds.yaml` 的 Pod template 加上 `nodeSelector`（`ssd: "true"`）後套用，讓每個
        `ssd=true` 的 node 上剛好一個 Pod，其他 node 上沒有。
    checks:
      - id: placement
        type: pods_on_nodes
        pods: app=fast
        nodes: ssd=true
        every_node: true
    solution:
      files: [fast-ds-solved.yaml]
      commands:
        - kubectl apply -f fast-ds-solved.yaml
    near_misses:
      - id: everywhere
        description: Without the nodeSelector, a Pod runs on every node.
        files: [fast-ds.yaml]
        commands:
          - kubectl apply -f fast-ds.yaml
        fails: [placement]
""",
    {
        "fast-ds.yaml": """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fast
spec:
  selector:
    matchLabels: {app: fast}
  template:
    metadata:
      labels: {app: fast}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
""",
        "fast-ds-solved.yaml": """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fast
spec:
  selector:
    matchLabels: {app: fast}
  template:
    metadata:
      labels: {app: fast}
    spec:
      nodeSelector:
        ssd: "true"
      containers:
        - name: nginx
          image: nginx:1.27
""",
    },
)

SCRIPT = Starter(
    "script",
    _("Anything else, as a script with the learner's kubectl (script)"),
    _HEADER.format(title="My script lab", title_zh="我的腳本練習", chapter="everyday-kubectl")
    + """\
  - id: note-the-image
    title:
      en: Write down what a Pod runs
      zh-hant: 記下 Pod 執行的映像檔
    instructions:
      en: |
        Run the Pod in `web-pod.yaml`. Then store the image it runs in a ConfigMap named
        **notes** under the key `image`.
      zh-hant: |
        執行 `web-pod.yaml` 裡的 Pod，再把它執行的映像檔存進名為 **notes** 的 ConfigMap，
        key 是 `image`。
    checks:
      - id: noted
        type: script
        run: |
          want=$(kubectl get pod web -o jsonpath='{.spec.containers[0].image}')
          got=$(kubectl get configmap notes -o jsonpath='{.data.image}')
          [ -n "$got" ] || { echo "The notes ConfigMap has no image key yet."; exit 1; }
          [ "$got" = "$want" ] || { echo "notes says $got; web runs $want."; exit 1; }
        message:
          en: "The notes ConfigMap should hold the image the web Pod runs, under `image`."
          zh-hant: "notes ConfigMap 的 `image` 應該是 web Pod 執行的映像檔。"
    setup:
      files: [web-pod.yaml]
      commands:
        - kubectl apply -f web-pod.yaml
    solution:
      commands:
        - >-
          kubectl create configmap notes
          --from-literal=image="$(kubectl get pod web -o jsonpath='{.spec.containers[0].image}')"
    near_misses:
      - id: wrong-image
        description: The green tag, not the one running.
        commands:
          - kubectl create configmap notes --from-literal=image=gcr.io/kuar-demo/kuard-amd64:green
        fails: [noted]
""",
    {"web-pod.yaml": _POD},
)

STARTERS: dict[str, Starter] = {
    s.key: s for s in (POD_FIELDS, LABELS, REPLICAS, JOB, PLACEMENT, SCRIPT)
}
