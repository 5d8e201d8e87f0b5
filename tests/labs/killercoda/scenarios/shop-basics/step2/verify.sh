#!/bin/bash
NS=shop
kubectl get configmap shop-settings --namespace=$NS -o jsonpath='{.data.currency}' | grep -qx EUR
