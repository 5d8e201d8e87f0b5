"""Learner environments: provision (from the warm pool, else cold), reset, teardown, idle culling
with sleep and wake (the learner's objects saved, then created again), short-lived credentials,
and the warm pool itself.

Every function here is safe to call again: cluster objects are applied idempotently, and work on
one environment holds it (holds) without keeping a database lock while the cluster answers.
Cluster trouble never escapes as an exception from `sandbox_provision`/`sandbox_reset`: the
environment is marked `unavailable` with a sentence for the learner and a retry is queued.

    build        the manifests made real: platform objects, a namespace that is ours
    pool         ready namespaces built ahead, claimed atomically
    holds        one holder per environment, by a lease on its row
    lifecycle    provision, reset, teardown, cull
    sleep        a culled environment's objects saved, then restored as the learner
    credentials  short-lived tokens and kubeconfigs
    scratch      throwaway namespaces for `labs test`
    notices      live notices of what the cluster refused (a Deployment past the pod quota)
"""

from sandbox.services.build import (
    MAX_NAME_ATTEMPTS,
    REJECTED_SENTENCE,
    SUSPENDED_SENTENCES,
    UNAVAILABLE_SENTENCE,
    WIPE_TIMEOUT_SECONDS,
    SandboxForbidden,
    SandboxNotReady,
    Status,
)
from sandbox.services.credentials import Credentials, sandbox_credentials, sandbox_kubeconfig
from sandbox.services.holds import HOLD_SECONDS, HOLD_WAIT_SECONDS, EnvironmentBusy
from sandbox.services.lifecycle import (
    sandbox_cull_idle,
    sandbox_notice_take,
    sandbox_provision,
    sandbox_reset,
    sandbox_teardown,
    sandbox_touch,
)
from sandbox.services.notices import denials_announce
from sandbox.services.pool import pool_claim, pool_drain, pool_refill
from sandbox.services.scratch import (
    ScratchEnvironment,
    sandbox_scratch_create,
    sandbox_scratch_delete,
)
from sandbox.services.sleep import sandbox_orphans_delete

__all__ = [
    "HOLD_SECONDS",
    "HOLD_WAIT_SECONDS",
    "MAX_NAME_ATTEMPTS",
    "REJECTED_SENTENCE",
    "SUSPENDED_SENTENCES",
    "UNAVAILABLE_SENTENCE",
    "WIPE_TIMEOUT_SECONDS",
    "Credentials",
    "EnvironmentBusy",
    "SandboxForbidden",
    "SandboxNotReady",
    "ScratchEnvironment",
    "Status",
    "denials_announce",
    "pool_claim",
    "pool_drain",
    "pool_refill",
    "sandbox_credentials",
    "sandbox_cull_idle",
    "sandbox_kubeconfig",
    "sandbox_notice_take",
    "sandbox_orphans_delete",
    "sandbox_provision",
    "sandbox_reset",
    "sandbox_scratch_create",
    "sandbox_scratch_delete",
    "sandbox_teardown",
    "sandbox_touch",
]
