#!/usr/bin/env bash
# Build the embedded control plane from Go modules into a versioned cache outside the repo.
# A second run with the same versions builds nothing (each product has a stamp file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster/versions.sh
source "$here/versions.sh"

export CGO_ENABLED=0
export GOFLAGS=-buildvcs=false
mkdir -p "$KUBELAB_BIN"

log() { printf '[cluster/build] %s\n' "$*" >&2; }

build_k8s() {
  local stamp="$KUBELAB_BIN/.k8s-v$K8S_VERSION.done"
  [ -f "$stamp" ] && { log "kubernetes v$K8S_VERSION: cached"; return; }
  local w="$KUBELAB_CACHE/src/k8s-$K8S_VERSION" minor sv gomod ldf p
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  sv="0.${K8S_VERSION#1.}"
  mkdir -p "$w" && cd "$w"
  [ -f go.mod ] || go mod init local.invalid/k8sbins
  # k/k requires its staging modules at v0.0.0 and replaces them with ./staging paths, which only
  # works when k/k is the main module; map each to its published v0.X.Y tag instead.
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  while IFS= read -r m; do
    go mod edit -replace="$m=$m@v$sv"
  done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod")
  log "kubernetes v$K8S_VERSION: resolving modules"
  go get -tool \
    "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION"
  ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  log "kubernetes v$K8S_VERSION: compiling (tens of minutes on 2 cores)"
  go build -trimpath -ldflags "$ldf" -o "$KUBELAB_BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  "$KUBELAB_BIN/kube-apiserver" --version
  touch "$stamp"
}

# go_program NAME VERSION MODULE [LDFLAGS]: a program built from its module (main package at the
# module's path) in a module of its own, so its pins cannot move another product's.
go_program() {
  local name=$1 version=$2 module=$3 ldflags=${4:-}
  local stamp="$KUBELAB_BIN/.$name-v$version.done"
  [ -f "$stamp" ] && { log "$name v$version: cached"; return; }
  local w="$KUBELAB_CACHE/src/$name-$version"
  mkdir -p "$w" && cd "$w"
  [ -f go.mod ] || go mod init "local.invalid/${name//-/}bin"
  log "$name v$version: building"
  go get -tool "$module@v$version"
  go build -trimpath -ldflags "-s -w $ldflags" -o "$KUBELAB_BIN/$name" "$module"
  "$KUBELAB_BIN/$name" --version
  touch "$stamp"
}

build_etcd() { go_program etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3; }

build_kwok() {
  local stamp="$KUBELAB_BIN/.kwok-v$KWOK_VERSION.done"
  [ -f "$stamp" ] && { log "kwok v$KWOK_VERSION: cached"; return; }
  log "kwok v$KWOK_VERSION: building"
  GOBIN="$KUBELAB_BIN" go install \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
  touch "$stamp"
}

# metrics-server serves the metrics API (kubectl top, the HorizontalPodAutoscaler); about 2 minutes
# on 2 cores. Its stamp sits beside the others, but the directory keeps its name: adding it must
# not rebuild Kubernetes.
build_metrics_server() {
  go_program metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server/cmd/metrics-server \
    "-X k8s.io/client-go/pkg/version.gitVersion=v$METRICS_SERVER_VERSION"
}

# Our own kubelet shim (cluster/kubelet-shim) changes with the repo, so its cache key is a hash
# of its sources; `shim_path` prints where the current sources' binary lives.
shim_path() {
  local hash
  hash=$(cd "$here/kubelet-shim" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
  echo "$KUBELAB_CACHE/kubelet-shim/$hash/kubelet-shim"
}

build_shim() {
  local out
  out=$(shim_path)
  [ -x "$out" ] && { log "kubelet-shim: cached"; return; }
  log "kubelet-shim: building"
  mkdir -p "$(dirname "$out")"
  (cd "$here/kubelet-shim" && go build -trimpath -ldflags "-s -w" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
}

# KUBELAB_PREBUILT: another cache of this script's (a machine that ran scripts/setup lends its
# own to the image build, tests/deploy/compose_stack.py): binaries of the same versions, and the
# shim of the same sources, are copied from it instead of compiled again.
prebuilt_copy() {
  [ -n "${KUBELAB_PREBUILT:-}" ] || return 0
  local bins shim hash target
  bins="$KUBELAB_PREBUILT/bin/$(basename "$KUBELAB_BIN")"
  if [ -f "$bins/.k8s-v$K8S_VERSION.done" ] && [ -f "$bins/.etcd-v$ETCD_VERSION.done" ] &&
    [ -f "$bins/.kwok-v$KWOK_VERSION.done" ]; then
    log "copying the binaries from $bins"
    cp -a "$bins/." "$KUBELAB_BIN/"
  fi
  target=$(shim_path) # hashes the shim's sources: once
  hash=$(basename "$(dirname "$target")")
  shim="$KUBELAB_PREBUILT/kubelet-shim/$hash/kubelet-shim"
  if [ -x "$shim" ]; then
    mkdir -p "$(dirname "$target")"
    cp "$shim" "$target"
  fi
}

case "${1:-all}" in
  shim) build_shim ;;
  shim-path) shim_path ;;
  all)
    prebuilt_copy
    # Each product is independent; keep them in separate modules so MVS cannot mix their pins.
    build_etcd
    build_kwok
    build_k8s
    build_metrics_server
    build_shim
    log "all binaries in $KUBELAB_BIN"
    ;;
  *)
    echo "usage: cluster/build.sh [all|shim|shim-path]" >&2
    exit 2
    ;;
esac
