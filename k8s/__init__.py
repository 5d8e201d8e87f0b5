"""The one gateway to the Kubernetes API: every call kubelab makes to a cluster goes through
this package, and only `k8s.client` imports the `kubernetes` library (an import contract).

    errors       ClusterUnavailable (retry later) and ClusterRejected (report it); pure
    kinds        the one table of kinds kubelab knows; pure
    client       the shared client, raw requests, error translation
    cache        objects kept from shared lists and watches (the watcher's informer store); pure
    objects      objects as plain dicts: lists, watches, create/apply/get/patch/delete
    tokens       ServiceAccount tokens and the API server's endpoint, for learners' kubeconfigs
    portforward  a pod's port, as a learner, through the API server

Callers use the names below (`k8s.object_get(...)`, `k8s.ClusterError`).
"""

from k8s.cache import ObjectCache, object_stripped
from k8s.client import cluster_version, connection_key
from k8s.errors import ClusterError, ClusterRejected, ClusterUnavailable, WatchExpired
from k8s.kinds import GRADED, KINDS, KindInfo, kind_get, resource_path
from k8s.objects import (
    FIELD_MANAGER,
    Obj,
    nodes_list,
    object_apply,
    object_create,
    object_create_as,
    object_delete,
    object_get,
    object_patch,
    objects_delete_collection,
    objects_list,
    objects_list_all_namespaces,
    objects_list_by_namespace,
    objects_list_versioned,
    objects_query,
    objects_watch,
    quota_status_write,
)
from k8s.portforward import pod_port_exchange
from k8s.tokens import Endpoint, Token, cluster_endpoint, service_account_token_create

__all__ = [
    "FIELD_MANAGER",
    "GRADED",
    "KINDS",
    "ClusterError",
    "ClusterRejected",
    "ClusterUnavailable",
    "Endpoint",
    "KindInfo",
    "Obj",
    "ObjectCache",
    "Token",
    "WatchExpired",
    "cluster_endpoint",
    "cluster_version",
    "connection_key",
    "kind_get",
    "nodes_list",
    "object_apply",
    "object_create",
    "object_create_as",
    "object_delete",
    "object_get",
    "object_patch",
    "object_stripped",
    "objects_delete_collection",
    "objects_list",
    "objects_list_all_namespaces",
    "objects_list_by_namespace",
    "objects_list_versioned",
    "objects_query",
    "objects_watch",
    "pod_port_exchange",
    "quota_status_write",
    "resource_path",
    "service_account_token_create",
]
