"""The terminal socket through the real ASGI stack, a real jail and a real API server."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async

from terminal.manager import terminal_manager
from terminal.session import ENDED_NOTICE
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import WsTerminal, plain

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
PROMPT = r"learner@kubelab:~\$ $"

# What a learner of the sandbox app may do outside their own namespace: name -> (kubectl
# arguments, allowed). Allowed ones exit 0, Forbidden ones exit 1.
OUTSIDE: dict[str, tuple[str, bool]] = {
    "ks_pods": ("get pods -n kube-system", True),
    "ks_workloads": ("get deployments,daemonsets,replicasets,services -n kube-system", True),
    "ks_events": ("get events -n kube-system", True),
    "ks_describe_dns": ("describe service kube-dns -n kube-system", True),
    "nodes": ("get nodes", True),
    "ks_secrets": ("get secrets -n kube-system", False),
    "ks_configmaps": ("get configmaps -n kube-system", False),
    "ks_logs": ("logs -n kube-system deployment/coredns", False),
    "ks_sa": ("get serviceaccounts -n kube-system", False),
    "ks_write": ("label service kube-dns -n kube-system x=y --dry-run=server", False),
    "default_pods": ("get pods -n default", False),
    "all_pods": ("get pods --all-namespaces", False),
    "namespaces": ("get namespaces", False),
    "own_secrets": ("get secrets", False),
}


async def open_terminal(
    learner: ShellLearner, *, cookie: bytes | None = None, **kwargs: object
) -> WsTerminal:
    tab = WsTerminal(cookie or learner.cookie, **kwargs)  # type: ignore[arg-type]
    connected, code = await tab.connect()
    assert connected, f"refused with {code}"
    await tab.wait_for(PROMPT)
    return tab


async def test_kubectl_sees_the_learners_namespace_and_nothing_else(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("ada")
    tab = await open_terminal(learner)
    assert learner.namespace in tab.output  # greeting and prompt name the namespace

    start = len(tab.output)
    await tab.type("kubectl get pods\r")
    await tab.wait_for(f"No resources found in {learner.namespace} namespace.", start=start)

    # This learner's token (tests/terminal/learners.py) carries one namespaced Role and
    # nothing else, so everything outside is Forbidden: the jail adds no rights of its own. The
    # sandbox app's learners also read a little of kube-system, tested further down.
    start = len(tab.output)
    await tab.type("kubectl get pods -n kube-system\r")
    text = await tab.wait_for(r"Forbidden.*\n.*\$ $", start=start)
    assert 'cannot list resource "pods"' in text and "kube-system" in text
    await tab.close()


async def test_the_shell_greets_in_the_language_of_the_page(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    # Websockets skip LocaleMiddleware: the terminal reads the language cookie itself.
    english = await sync_to_async(make_shell_learner)("en-greet")
    tab = await open_terminal(english)
    assert (
        f"Welcome to kubelab. Your namespace is {english.namespace}. Try: kubectl get pods"
        in plain(tab.output)
    )
    await tab.close()
    chinese = await sync_to_async(make_shell_learner)("zh-greet")
    tab = await open_terminal(chinese, cookie=chinese.cookie + b"; django_language=zh-hant")
    assert (
        f"歡迎使用 kubelab。你的命名空間是 {chinese.namespace}。試試：kubectl get pods"  # noqa: RUF001
        in plain(tab.output)
    )
    await tab.close()


async def test_resize_reaches_the_pty(make_shell_learner: Callable[[str], ShellLearner]) -> None:
    learner = await sync_to_async(make_shell_learner)("grace")
    tab = await open_terminal(learner)
    await tab.send("resize", 37, 111)
    start = len(tab.output)
    await tab.type("stty size\r")
    await tab.wait_for(r"\n37 111\n", start=start)
    await tab.close()


async def test_initial_size_comes_from_the_query_string(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("query")
    tab = await open_terminal(learner, path="/ws/terminal/?rows=30&cols=120")
    start = len(tab.output)
    await tab.type("stty size\r")
    await tab.wait_for(r"\n30 120\n", start=start)
    await tab.close()


async def test_unauthenticated_socket_is_refused() -> None:
    tab = WsTerminal(None)
    connected, code = await tab.connect()
    assert not connected
    assert code == 4401
    assert terminal_manager().sessions == {}


async def test_wrong_origin_is_refused(make_shell_learner: Callable[[str], ShellLearner]) -> None:
    learner = await sync_to_async(make_shell_learner)("origin")
    tab = WsTerminal(learner.cookie, origin=(b"origin", b"http://evil.example"))
    connected, _ = await tab.connect()
    assert not connected
    tab = WsTerminal(learner.cookie, origin=None)
    connected, _ = await tab.connect()
    assert not connected
    assert terminal_manager().sessions == {}


async def test_another_learners_session_is_refused(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    alice = await sync_to_async(make_shell_learner)("alice")
    bob = await sync_to_async(make_shell_learner)("bob")
    alice_tab = await open_terminal(alice)
    await alice_tab.type("echo alice-secret-$((6*7))\r")
    await alice_tab.wait_for("alice-secret-42")
    session_id = alice_tab.session_id
    assert session_id

    intruder = WsTerminal(bob.cookie, path=f"/ws/terminal/{session_id}/")
    connected, code = await intruder.connect()
    assert not connected
    assert code == 4403
    malformed = WsTerminal(bob.cookie, path="/ws/terminal/x;rm -rf ~/")
    assert (await malformed.connect()) == (False, 4400)

    # Without an id, Bob gets his own shell in his own namespace, never Alice's scrollback.
    bob_tab = await open_terminal(bob)
    assert bob_tab.session_id != session_id
    assert "alice-secret" not in bob_tab.output
    assert bob.namespace in bob_tab.output and alice.namespace not in bob_tab.output
    await bob_tab.close()
    await alice_tab.close()


async def test_reload_reattaches_with_scrollback(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("reload")
    first = await open_terminal(learner)
    await first.type("export KEEP=still-here; echo marker-$((40+2))\r")
    await first.wait_for("marker-42")
    session_id = first.session_id
    await first.close()

    # A reload (same id) and a second tab (no id) both land in the same shell.
    again = WsTerminal(learner.cookie, path=f"/ws/terminal/{session_id}/")
    assert (await again.connect())[0]
    await again.wait_for("marker-42")  # replayed scrollback
    assert again.session_id == session_id
    second_tab = await open_terminal(learner)
    assert second_tab.session_id == session_id
    start = len(again.output)
    await again.type("echo $KEEP\r")
    await again.wait_for("\nstill-here\n", start=start)
    await second_tab.wait_for("\nstill-here\n")  # both tabs see the same shell
    await again.close()
    await second_tab.close()


async def test_shell_exit_offers_a_restart(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("exit")
    tab = await open_terminal(learner)
    await tab.type("exit 3\r")
    message = await tab.wait_message("exit")
    assert message == ["exit", 3]
    await tab.wait_for(ENDED_NOTICE)
    start = len(tab.output)
    await tab.type("\r")
    await tab.wait_for(PROMPT, start=start)
    start = len(tab.output)
    await tab.type("kubectl get pods\r")
    await tab.wait_for("No resources found", start=start)
    await tab.close()


async def test_the_sandbox_apps_learner_environment_end_to_end(
    monkeypatch: pytest.MonkeyPatch, kubeconfig_dir: object
) -> None:
    """The production wiring: sandbox.services.sandbox_kubeconfig provisions and hands over."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from sandbox.selectors import sandbox_get_for_user
    from sandbox.services import sandbox_teardown

    monkeypatch.setenv(
        "KUBELAB_TERMINAL_KUBECONFIG_PROVIDER", "sandbox.services.sandbox_kubeconfig"
    )

    def make_user() -> tuple[object, bytes]:
        user = get_user_model().objects.create_user(username="real-env", password="pw-123456789")
        client = Client()
        client.force_login(user)
        return user, f"sessionid={client.cookies['sessionid'].value}".encode()

    user, cookie = await sync_to_async(make_user)()
    try:
        tab = WsTerminal(cookie)
        assert (await tab.connect())[0]
        await tab.wait_for(PROMPT, within=90)
        env = await sync_to_async(sandbox_get_for_user)(user=user)
        assert env is not None and env.namespace
        start = len(tab.output)
        await tab.type("kubectl get pods\r")
        await tab.wait_for(f"No resources found in {env.namespace} namespace.", start=start)
        # Outside their namespace a learner reads what the chapters inspect (sandbox/manifests.py:
        # CLUSTER_READ_RULES, KUBE_SYSTEM_READ_RULES) and nothing else.
        start = len(tab.output)
        await tab.type(
            "; ".join(
                f"kubectl {command} >/dev/null 2>&1; echo {name}=$?"
                for name, (command, _) in OUTSIDE.items()
            )
            + "; echo outside''-done\r"
        )
        text = await tab.wait_for(r"outside-done", start=start, within=60)
        seen = {name: int(code) for name, code in re.findall(r"(\w+)=(\d+)", text)}
        expected = {name: 0 if allowed else 1 for name, (_, allowed) in OUTSIDE.items()}
        assert seen == expected
        await tab.close()
    finally:
        await terminal_manager().shutdown()
        await sync_to_async(sandbox_teardown)(user=user)
