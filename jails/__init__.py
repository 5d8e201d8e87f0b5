"""Every kubelab jail on the host: the learner's terminal, `script` checks and `labs test`
steps (one way to start them: launch, oneshot), and the kit the pod builder shares (bwrap,
seccomp).

This file and the kit (bwrap, seccomp) run on the standard library alone: the pod builder
imports them under the system Python as a pod's uid (an import contract says so). The rest
(config, launch, oneshot, uids, kubectl, cgroups, forwarder, sessiondir, kubeconfig, learner)
runs in the web server and the grading workers.
"""
