#!/bin/bash
kubectl -n shop annotate deployment web shop.example/owner=team-web --overwrite
