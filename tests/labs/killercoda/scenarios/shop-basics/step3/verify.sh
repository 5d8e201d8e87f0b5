#!/bin/bash
kubectl get clusterrole node-reader
