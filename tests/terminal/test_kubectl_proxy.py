"""`kubectl proxy &` in the browser terminal: it serves the API on the loopback of the learner's
own jail (their network namespace), forwards with their token, so RBAC still decides, and nobody
else's terminal can reach it. Chapter 2 teaches it with curl."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async

from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import WsTerminal

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
PROMPT = r"learner@kubelab:~\$ $"


async def _terminal(learner: ShellLearner) -> WsTerminal:
    tab = WsTerminal(learner.cookie)
    assert (await tab.connect())[0]
    await tab.wait_for(PROMPT)
    return tab


async def _run(tab: WsTerminal, command: str, expect: str, *, within: float = 30.0) -> str:
    start = len(tab.output)
    await tab.type(command + "\r")
    return await tab.wait_for(expect, start=start, within=within)


async def test_kubectl_proxy_serves_the_api_in_the_learners_own_terminal(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("proxy")
    other = await sync_to_async(make_shell_learner)("neighbour")
    tab = await _terminal(learner)
    await _run(tab, "kubectl create configmap greeting --from-literal=message=hello", "created")
    await _run(tab, "kubectl proxy &", r"Starting to serve on 127\.0\.0\.1:8001")

    url = f"http://localhost:8001/api/v1/namespaces/{learner.namespace}/configmaps/greeting"
    await _run(tab, f"curl -s --retry 10 --retry-connrefused {url}", r'"message": "hello"')
    # The proxy adds the learner's token and nothing more: other namespaces stay forbidden.
    forbidden = "http://localhost:8001/api/v1/namespaces/default/pods"
    await _run(
        tab, f"curl -s -o /dev/null -w 'default:%{{http_code}}\\n' {forbidden}", r"default:403"
    )

    # Another learner's terminal has its own loopback: the proxy (and its token) is not there.
    neighbour = await _terminal(other)
    probe = "curl -s -o /dev/null -w 'other:%{http_code}\\n' http://localhost:8001/api"
    await _run(neighbour, probe, r"other:000")
    await neighbour.close()

    await _run(tab, "kill %1; wait", PROMPT)
    await _run(tab, probe.replace("other:", "after:"), r"after:000")
    await tab.close()
