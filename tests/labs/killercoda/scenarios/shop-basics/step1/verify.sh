#!/bin/bash
set -euo pipefail
NS="shop"
kubectl get ns "$NS" >/dev/null 2>&1 || { echo "namespace $NS is missing"; exit 1; }
replicas="$(kubectl -n "$NS" get deploy web -o jsonpath='{.spec.replicas}')"
[[ "$replicas" == "3" ]] || { echo "web has $replicas replicas, not 3"; exit 1; }
