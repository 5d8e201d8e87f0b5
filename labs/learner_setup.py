"""An imported scenario's "Set up this step": its setup (the scenario's background scripts, and
the steps before it done) run in the learner's own namespace, as the learner.

Killercoda starts each scenario from a state its background script makes (a Deployment to fix,
a namespace with a broken Service); without it the step makes no sense. The setup runs on a
worker in a one-shot jail with the learner's own credentials (labs.scripts), so it can do only
what the learner could do by typing it; the learner hears the outcome on their events socket.
Only labs marked ``scenario: true`` offer it: a catalog lab's setup is the state its earlier
exercises leave, which the learner is meant to make themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

import k8s
from kubelab.events import user_event_send
from labs.learners import learner_environment
from labs.library import lab_resolve
from labs.scripts import learner_shell_run
from labs.selectors import ExerciseNotFound, exercise_get

logger = logging.getLogger(__name__)

SETUP_TIMEOUT = 60.0
OUTPUT_SHOWN = 1500


class SetupUnavailable(LookupError):
    """The exercise has no setup a learner may run."""


def setup_offered(*, lab_slug: str, exercise_id: str, version: int) -> bool:
    try:
        lab, exercise = exercise_get(lab_slug=lab_slug, exercise_id=exercise_id, version=version)
    except ExerciseNotFound:
        return False
    return lab.learner_setup(exercise) is not None


def exercise_setup_request(*, user: Any, lab_slug: str, exercise_id: str, version: int) -> None:
    """Queue the setup for this learner (after commit); SetupUnavailable if it has none."""
    if not setup_offered(lab_slug=lab_slug, exercise_id=exercise_id, version=version):
        raise SetupUnavailable(f"{lab_slug}/{exercise_id}")
    from labs.services import grading_queue
    from labs.tasks import exercise_setup_task

    transaction.on_commit(
        lambda: exercise_setup_task.apply_async(
            (int(user.pk), lab_slug, exercise_id, version), queue=grading_queue()
        )
    )


def _tell(user_id: int, key: str, *, ok: bool, output: str) -> None:
    user_event_send(
        user_id=user_id,
        event={"type": "labs.setup", "exercise": key, "ok": ok, "output": output[-OUTPUT_SHOWN:]},
    )


def exercise_setup_run(*, user: Any, lab_slug: str, exercise_id: str, version: int) -> bool:
    """Run the setup now (on a worker); True when every command succeeded."""
    key = f"{lab_slug}/{exercise_id}"
    lab = lab_resolve(slug=lab_slug, version=version)
    setup = lab.learner_setup(lab.exercise(exercise_id))
    if setup is None:
        return False
    try:
        environment = learner_environment(user=user)
        kubeconfig = environment.kubeconfig() if environment is not None else None
    except k8s.ClusterError as exc:
        _tell(int(user.pk), key, ok=False, output=f"the cluster did not answer: {exc}")
        return False
    if environment is None or not kubeconfig:
        _tell(int(user.pk), key, ok=False, output="your environment is still starting; try again")
        return False
    run = learner_shell_run(
        script="set -e\n" + "\n".join(setup.commands),
        kubeconfig=kubeconfig,
        timeout=SETUP_TIMEOUT,
        files=lab.files,
        scenario=True,
    )
    ok = run.exit_code == 0
    why = "it ran out of time" if run.timed_out else (run.error or "")
    _tell(int(user.pk), key, ok=ok, output="\n".join(x for x in (why, run.output.strip()) if x))
    logger.info("setup of %s for user %s: exit %s", key, user.pk, run.exit_code)
    return ok
