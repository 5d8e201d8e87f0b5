# shellcheck shell=bash
# Pinned versions of the embedded control plane and where its build cache lives (outside the repo).
# Sourced by the other cluster scripts; change a version here and the next build makes a new cache.
K8S_VERSION=${KUBELAB_K8S_VERSION:-1.36.3}
ETCD_VERSION=${KUBELAB_ETCD_VERSION:-3.6.16}
KWOK_VERSION=${KUBELAB_KWOK_VERSION:-0.8.0}
METRICS_SERVER_VERSION=${KUBELAB_METRICS_SERVER_VERSION:-0.8.0}
KUBELAB_CACHE=${KUBELAB_CACHE:-$HOME/.cache/kubelab}
KUBELAB_BIN="$KUBELAB_CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
export K8S_VERSION ETCD_VERSION KWOK_VERSION METRICS_SERVER_VERSION KUBELAB_CACHE KUBELAB_BIN
