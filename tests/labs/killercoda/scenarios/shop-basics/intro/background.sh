#!/bin/bash
NS=shop
kubectl get ns "$NS" >/dev/null 2>&1 || kubectl create namespace "$NS"
kubectl -n "$NS" create deployment web --image=nginx:1.27 --replicas=1
