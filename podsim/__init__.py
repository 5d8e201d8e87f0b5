"""Simulated pods' insides: container environment, volumes, DNS, the kuard-like demo app, and
the pod builder that lays a pod's tree out and starts its jails (podjail, podtree).

Everything here runs under the system Python on the standard library alone (an import contract,
`stdlib_only`, says so): the demo app inside a jail where only this package exists, the pod
builder as the pod's unprivileged uid (cluster/pod-helper). The builder may also use the jail
kit (jails.bwrap, jails.seccomp), which keeps the same rule; nothing else of kubelab.
"""
