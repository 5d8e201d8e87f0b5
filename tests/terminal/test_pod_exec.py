"""`kubectl exec -ti` from the browser terminal into a simulated pod, and back out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async

from tests.fixtures.cluster import Cluster
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import WsTerminal

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
PROMPT = r"learner@kubelab:~\$ $"


async def test_interactive_exec_into_a_pod_from_the_terminal(
    cluster: Cluster, make_shell_learner: Callable[[str], ShellLearner]
) -> None:
    if not cluster.embedded:
        pytest.skip("simulated pods answer exec only on the embedded cluster")
    learner = await sync_to_async(make_shell_learner)("exec")
    tab = WsTerminal(learner.cookie)
    assert (await tab.connect())[0]
    await tab.wait_for(PROMPT)

    image = "gcr.io/kuar-demo/kuard-amd64:blue"
    await tab.type(f"kubectl run kuard --image={image} --port=8080\r")
    await tab.wait_for("pod/kuard created")
    start = len(tab.output)
    await tab.type("kubectl wait --for=condition=Ready pod/kuard --timeout=60s\r")
    await tab.wait_for("condition met", start=start, within=70)

    start = len(tab.output)
    await tab.type("kubectl exec -ti kuard -- sh\r")
    await tab.wait_for(r"# $", start=start, within=30)  # the pod's root shell
    start = len(tab.output)
    await tab.type("echo $(hostname)-$((6*7)) in $PWD\r")
    await tab.wait_for(r"kuard-42 in /", start=start)
    await tab.send("resize", 33, 99)
    # The new size travels on: our pty, kubectl's SIGWINCH handler, the exec stream, the kubelet
    # shim, the pod's pty. A command typed at once may run before it lands, so ask until it has.
    for attempt in range(10):
        start = len(tab.output)
        await tab.type("stty size\r")
        with contextlib.suppress(AssertionError):  # judged below
            await tab.wait_for(r"\d+ \d+\s+kuard:/ # $", start=start, within=10)
        if "33 99" in tab.output[start:]:
            break
        await asyncio.sleep(0.2 * (attempt + 1))
    assert "33 99" in tab.output[start:], tab.output[-300:]

    start = len(tab.output)
    await tab.type("exit\r")
    await tab.wait_for(PROMPT, start=start)  # back in the learner's own shell
    await tab.close()
