"""Keystroke echo round trip of kubelab's terminal vs terminado vs a raw pty; RSS per idle session.

    scripts/services start redis postgres; cluster/ctl start
    .venv/bin/python bench/terminal_rtt.py [--sessions 50] [--keys 100]

It starts, in this one run: kubelab's web server (`python -m kubelab.serve`: real auth, real jail,
real API server, a temporary SQLite database) twice, once holding the shells itself and once
relaying them to a terminal daemon (`manage.py terminal_daemon`), a terminado server (Jupyter's
terminal server from PyPI, plain bash, no jail), and raw ptys driven directly (the floor).
Typists press a key every 50-150 ms and time the echo. All four take turns in interleaved rounds
(`--rounds`, the order rotating), so a load swing on this shared machine hits all alike. Everything
binds to 127.0.0.1 and stops by itself. The web server, daemon and jails run as root, as in
`scripts/run`; bench users are fresh rows in the temporary database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchlib import exit_on_signals

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
KUBECTL = ROOT / "var" / "cluster" / "bin" / "kubectl"
ADMIN = Path(os.environ.get("KUBELAB_KUBECONFIG", ROOT / "var" / "cluster" / "admin.kubeconfig"))
UID_BASE, UID_COUNT = 200000, 10000
KEYS = "kubectl get pods -o wide"


def bench_kubeconfig(*, user: object) -> str:
    """The web server's kubeconfig provider during the bench: one learner namespace for all."""
    return Path(os.environ["KUBELAB_BENCH_KUBECONFIG"]).read_text()


# Bench set-up code may block: it runs before and after the measured part.
# ruff: noqa: ASYNC220

# ----- helpers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


def kubectl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(ADMIN), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        if field == "Pss":
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        else:
            text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pids_where(pred: Callable[[int], bool]) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and pred(int(entry.name)):
            found.append(int(entry.name))
    return found


def uid_of(pid: int) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in pids_where(lambda _: True):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ----- typists -------------------------------------------------------------------------------


class Typist:
    """One learner typing: send a key, wait for its echo, pause like a person."""

    def __init__(self, send: Callable[[str], Awaitable[None]], echo: asyncio.Queue[None]) -> None:
        self.send = send
        self.echo = echo

    async def run(self, keys: int, samples: list[float], rng: random.Random) -> None:
        for i in range(keys):
            key = KEYS[i % len(KEYS)] if i % 20 != 19 else "\x15"  # ^U now and then
            while not self.echo.empty():
                self.echo.get_nowait()
            began = time.perf_counter()
            await self.send(key)
            await asyncio.wait_for(self.echo.get(), timeout=10)
            samples.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(rng.uniform(0.05, 0.15))


async def ws_typist(
    session: object, url: str, headers: dict[str, str], *, kubelab: bool, ready: str
) -> tuple[Typist, Callable[[], Awaitable[None]]]:
    import aiohttp

    assert isinstance(session, aiohttp.ClientSession)
    ws = await session.ws_connect(url, headers=headers, max_msg_size=0)
    echo: asyncio.Queue[None] = asyncio.Queue()
    buffer = ""
    got_ready = asyncio.Event()

    pending_acks = 0
    loop = asyncio.get_running_loop()
    sends: set[asyncio.Task[None]] = set()

    pending_chars = 0

    def flush_acks() -> None:
        nonlocal pending_acks, pending_chars
        pending_chars = 0
        if pending_acks and not ws.closed:
            sends.add(task := loop.create_task(ws.send_str(json.dumps(["ack", pending_acks]))))
            task.add_done_callback(sends.discard)
            pending_acks = 0

    async def reader() -> None:
        nonlocal buffer, pending_acks, pending_chars
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data[0] == "stdout":
                if kubelab:  # as terminal.js does: ack per 32 KiB / 64 frames, else every 0.5 s
                    if not pending_acks:
                        loop.call_later(0.5, flush_acks)
                    pending_acks += 1
                    pending_chars += len(data[1])
                    if pending_chars >= 32768 or pending_acks >= 64:
                        flush_acks()
                if got_ready.is_set():
                    echo.put_nowait(None)
                else:
                    buffer += data[1]
                    if ready in buffer:
                        got_ready.set()

    task = asyncio.create_task(reader())
    if not kubelab:
        await ws.send_str(json.dumps(["stdin", "\r"]))
    try:
        await asyncio.wait_for(got_ready.wait(), timeout=60)
    except TimeoutError:
        raise RuntimeError(
            f"{url}: no prompt in 60 s (closed: {ws.close_code}); the screen: {buffer[-500:]!r}"
        ) from None
    await asyncio.sleep(0.3)

    async def send(key: str) -> None:
        await ws.send_str(json.dumps(["stdin", key]))

    async def close() -> None:
        await ws.close()
        task.cancel()
        for sending in list(sends):  # acks still on their way when the socket closed
            sending.cancel()

    return Typist(send, echo), close


async def pty_typist() -> tuple[Typist, Callable[[], Awaitable[None]]]:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        ["bash", "--norc", "--noprofile", "-i"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "PS1": "$ ", "HOME": "/tmp"},
    )
    os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    echo: asyncio.Queue[None] = asyncio.Queue()

    def readable() -> None:
        try:
            if os.read(master, 65536):
                echo.put_nowait(None)
        except OSError:
            loop.remove_reader(master)

    await asyncio.sleep(0.3)
    loop.add_reader(master, readable)

    async def send(key: str) -> None:
        os.write(master, key.encode())

    async def close() -> None:
        loop.remove_reader(master)
        proc.kill()
        proc.wait()
        os.close(master)

    return Typist(send, echo), close


Made = tuple[Typist, Callable[[], Awaitable[None]]]


async def open_typists(make: Callable[[], Awaitable[Made]], sessions: int) -> list[Made]:
    made = []
    for _ in range(sessions):  # sequential: start-up is not what we measure
        made.append(await asyncio.wait_for(make(), 90))
    return made


async def type_round(made: list[Made], keys: int, samples: list[float], seed: int) -> None:
    rng = random.Random(seed)
    await asyncio.gather(*(typist.run(keys, samples, rng) for typist, _ in made))


async def close_all(made: list[Made]) -> None:
    for _, close in made:
        await close()


# ----- servers -------------------------------------------------------------------------------


def terminado_server(port: int) -> None:
    import tornado.ioloop
    import tornado.web
    from terminado import TermSocket, UniqueTermManager

    manager = UniqueTermManager(
        shell_command=["bash", "--norc", "--noprofile", "-i"],
        max_terminals=500,
        extra_env={"PS1": "$ ", "TERM": "xterm-256color"},
    )
    app = tornado.web.Application([(r"/websocket", TermSocket, {"term_manager": manager})])
    app.listen(port, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


class Kubelab:
    """kubelab's web server on a temporary SQLite database with logged-in bench users."""

    def __init__(
        self, work: Path, users: int, server_args: list[str], daemon: str | None = None
    ) -> None:
        self.work = work
        self.daemon = daemon
        self.daemon_proc: subprocess.Popen[bytes] | None = None
        self.server_args = server_args
        self.port = free_port()
        self.namespace = f"bench-{os.getpid()}"
        self.env = dict(os.environ)
        self.env.update(
            DJANGO_SETTINGS_MODULE="kubelab.settings",
            KUBELAB_SECRET_KEY="bench-only-not-secret",  # noqa: S106
            KUBELAB_DATABASE_URL=f"sqlite:///{work / 'bench.sqlite3'}",
            KUBELAB_TERMINAL_KUBECONFIG_PROVIDER="bench.terminal_rtt.bench_kubeconfig",
            KUBELAB_BENCH_KUBECONFIG=str(work / "learner.kubeconfig"),
            KUBELAB_TERMINAL_MAX_SESSIONS="500",
            KUBELAB_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            # The provider is this file, which imports benchlib from bench/.
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        )
        if daemon:
            self.env["KUBELAB_TERMINAL_DAEMON"] = daemon
        self.users = users
        self.cookies: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None

    def prepare(self) -> None:
        kubectl("create", "namespace", self.namespace)
        for _ in range(50):
            if subprocess.run(
                [str(KUBECTL), "--kubeconfig", str(ADMIN), "get", "sa", "default",
                 "-n", self.namespace], capture_output=True,
            ).returncode == 0:  # fmt: skip
                break
            time.sleep(0.2)
        from tests.fixtures import shell_kubeconfigs

        class _Cluster:
            kubeconfig = ADMIN

            def kubectl(
                self, *args: str, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
                return subprocess.CompletedProcess(args, 0, kubectl(*args, stdin=input), "")

        text = shell_kubeconfigs.learner_kubeconfig_create(_Cluster(), self.namespace)
        (self.work / "learner.kubeconfig").write_text(text)
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)
        script = (
            "import django; django.setup()\n"
            "from django.contrib.auth import get_user_model\n"
            "from django.test import Client\n"
            "import sys\n"
            "for i in range(int(sys.argv[1])):\n"
            "    u = get_user_model().objects.create_user(f'bench{i}', password='x-123456789')\n"
            "    c = Client(); c.force_login(u); print(c.cookies['sessionid'].value)\n"
        )
        out = subprocess.run(
            [PY, "-c", script, str(self.users)], cwd=ROOT, env=self.env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        self.cookies = out.split()

    def start(self) -> None:
        if self.daemon:
            daemon_log = self.work / "terminals.log"
            self.daemon_proc = subprocess.Popen(
                [PY, "manage.py", "terminal_daemon", "--listen", self.daemon],
                cwd=ROOT, env=self.env, stdout=daemon_log.open("wb"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            for _ in range(300):
                if b"listening on" in daemon_log.read_bytes():
                    break
                assert self.daemon_proc.poll() is None, daemon_log.read_text()
                time.sleep(0.1)
        log = (self.work / f"web-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [PY, "-m", "kubelab.serve", "--port", str(self.port), "--log-level", "warning",
             *self.server_args],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_port(self.port, self.proc, "kubelab web server")

    def stop(self) -> None:
        for proc in (self.proc, self.daemon_proc):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(ADMIN), "delete", "namespace", self.namespace,
             "--wait=false"], capture_output=True,
        )  # fmt: skip


def logs_print(work: Path) -> None:
    """The servers' logs, when the bench fails (the folder is removed after)."""
    for log in sorted(work.glob("*.log")):
        print(f"--- {log.name} (last lines)\n{log.read_text(errors='replace')[-1500:]}")


def jail_pids() -> list[int]:
    return pids_where(lambda pid: UID_BASE <= uid_of(pid) < UID_BASE + UID_COUNT)


# ----- main ----------------------------------------------------------------------------------


async def run_bench(sessions: int, keys: int, rounds: int, server_args: list[str]) -> None:
    import aiohttp

    work = Path(tempfile.mkdtemp(prefix="kubelab-bench-"))
    kubelab = Kubelab(work, 2 * (sessions + 2), server_args)
    # The same server relaying to a terminal daemon (KUBELAB_TERMINAL_DAEMON): the hop's cost.
    relay = Kubelab(work, 0, server_args, daemon=f"unix:{work / 'terminals' / 'daemon.sock'}")
    term_port = free_port()
    terminado = subprocess.Popen(
        [PY, __file__, "--terminado-server", str(term_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[tuple[str, int], list[float]] = {}
    memory: dict[str, tuple[float, float, float]] = {}
    cpu: dict[tuple[str, int], float] = {}
    try:
        print(f"preparing: namespace, {sessions} users, web server, terminado ...", flush=True)
        kubelab.prepare()
        kubelab.start()
        relay.start()
        wait_port(term_port, terminado, "terminado")
        assert kubelab.proc is not None and relay.proc is not None
        assert relay.daemon_proc is not None
        origin = f"http://127.0.0.1:{kubelab.port}"

        # No pool limit: aiohttp's default of 100 connections held the third server's sockets.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            users = iter(kubelab.cookies[: sessions + 2])
            relay_users = iter(kubelab.cookies[sessions + 2 :])

            async def kubelab_one() -> tuple[Typist, Callable[[], Awaitable[None]]]:
                cookie = next(users)
                return await ws_typist(
                    http, f"ws://127.0.0.1:{kubelab.port}/ws/terminal/",
                    {"Origin": origin, "Cookie": f"sessionid={cookie}"},
                    kubelab=True, ready="learner@kubelab",
                )  # fmt: skip

            async def daemon_one() -> tuple[Typist, Callable[[], Awaitable[None]]]:
                cookie = next(relay_users)
                return await ws_typist(
                    http, f"ws://127.0.0.1:{relay.port}/ws/terminal/",
                    {"Origin": f"http://127.0.0.1:{relay.port}", "Cookie": f"sessionid={cookie}"},
                    kubelab=True, ready="learner@kubelab",
                )  # fmt: skip

            async def terminado_one() -> tuple[Typist, Callable[[], Awaitable[None]]]:
                return await ws_typist(
                    http, f"ws://127.0.0.1:{term_port}/websocket", {}, kubelab=False, ready="$ "
                )

            # Warm both servers (imports, first jail, kubectl link) before measuring.
            for make in (kubelab_one, daemon_one, terminado_one):
                warm = await open_typists(make, 1)
                await type_round(warm, 5, [], 0)
                await close_all(warm)
            web_base = rss_kb(kubelab.proc.pid)
            terminado_base = rss_kb(terminado.pid)
            relay_base = rss_kb(relay.proc.pid) + rss_kb(relay.daemon_proc.pid)

            makers = {
                "raw pty": pty_typist, "terminado": terminado_one, "kubelab": kubelab_one,
                "daemon": daemon_one,
            }  # fmt: skip
            pids = {
                "terminado": [terminado.pid], "kubelab": [kubelab.proc.pid],
                "daemon": [relay.proc.pid, relay.daemon_proc.pid],
            }  # fmt: skip
            for n in (1, sessions):
                print(f"measuring {n} concurrent typist(s) x {keys} keys "
                      f"in {rounds} interleaved rounds ...", flush=True)  # fmt: skip
                opened = {name: await open_typists(make, n) for name, make in makers.items()}
                names = list(makers)
                for name in names:
                    results[(name, n)] = []
                    cpu[(name, n)] = 0.0
                # The machine's load drifts: every server types in every round, in a rotating
                # order, so none of them gets the quiet minute alone.
                for r in range(rounds):
                    turn = r % len(names)
                    for name in names[turn:] + names[:turn]:
                        owners = pids.get(name, [])
                        before = sum(cpu_seconds(pid) for pid in owners)
                        share = keys // rounds + (1 if r < keys % rounds else 0)
                        await type_round(opened[name], share, results[(name, n)], seed=r)
                        if owners:
                            cpu[(name, n)] += sum(cpu_seconds(pid) for pid in owners) - before
                await close_all(opened["raw pty"])
                if n == sessions:
                    k_closers = [close for _, close in opened["kubelab"]]
                    t_closers = [close for _, close in opened["terminado"]]
                    d_closers = [close for _, close in opened["daemon"]]
                else:
                    for name in ("terminado", "kubelab", "daemon"):
                        await close_all(opened[name])
                cpu.pop(("raw pty", n))
            await asyncio.sleep(3)  # idle

            jail = jail_pids()
            # + each server's warm-up and 1-typist sessions, in their grace period
            live = len(k_closers) + len(d_closers) + 4
            jail_rss = sum(rss_kb(p) for p in jail) / live / 1024
            jail_pss = sum(rss_kb(p, "Pss") for p in jail) / live / 1024
            memory["kubelab"] = (
                jail_rss, jail_pss,
                max(0, rss_kb(kubelab.proc.pid) - web_base) / len(k_closers) / 1024,
            )  # fmt: skip
            relay_now = rss_kb(relay.proc.pid) + rss_kb(relay.daemon_proc.pid)
            memory["daemon (web + daemon)"] = (
                jail_rss, jail_pss, max(0, relay_now - relay_base) / len(d_closers) / 1024,
            )  # fmt: skip
            shells = descendants(terminado.pid)
            memory["terminado"] = (
                sum(rss_kb(p) for p in shells) / max(1, len(shells)) / 1024,
                sum(rss_kb(p, "Pss") for p in shells) / max(1, len(shells)) / 1024,
                max(0, rss_kb(terminado.pid) - terminado_base) / len(t_closers) / 1024,
            )
            for close in k_closers + t_closers + d_closers:
                await close()
    except BaseException:
        logs_print(work)
        raise
    finally:
        relay.stop()
        kubelab.stop()
        terminado.terminate()
        terminado.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"keystroke echo round trip, ms ({keys} keys per typist, a key every 50-150 ms)")
    print(f"{'server':<11}{'typists':>8}{'p50':>9}{'p99':>9}{'max':>9}{'p50/terminado':>15}"
          f"{'p99/terminado':>15}{'server CPU/key':>16}")  # fmt: skip
    for n in (1, sessions):
        t50 = statistics.median(results[("terminado", n)])
        t99 = pct(results[("terminado", n)], 99)
        for name in ("raw pty", "terminado", "kubelab", "daemon"):
            s = results[(name, n)]
            p50, p99 = statistics.median(s), pct(s, 99)
            per_key = cpu.get((name, n))
            cost = (
                f"{per_key / (n * keys) * 1e6:>13.0f} us" if per_key is not None else f"{'-':>16}"
            )
            print(f"{name:<11}{n:>8}{p50:>9.2f}{p99:>9.2f}{max(s):>9.2f}{p50 / t50:>15.2f}"
                  f"{p99 / t99:>15.2f}{cost}")  # fmt: skip
    print()
    print(
        "memory per idle session, MiB   processes RSS   processes PSS   server growth"
        "   total (PSS+server)"
    )
    for name, (rss, pss, server) in memory.items():
        print(f"{name:<30}{rss:>16.1f}{pss:>16.1f}{server:>16.1f}{pss + server:>21.1f}")
    k50 = statistics.median(results[("kubelab", sessions)])
    k99 = pct(results[("kubelab", sessions)], 99)
    t50 = statistics.median(results[("terminado", sessions)])
    k1 = statistics.median(results[("kubelab", 1)])
    t1 = statistics.median(results[("terminado", 1)])
    rss, pss, server = memory["kubelab"]
    d50 = statistics.median(results[("daemon", sessions)])
    d99 = pct(results[("daemon", sessions)], 99)
    print()
    print(f"the daemon's hop at {sessions} typists: p50 {d50 - k50:+.2f} ms, "
          f"p99 {d99 - k99:+.2f} ms (daemon/in-process p50 {d50 / k50:.2f})")  # fmt: skip
    print("goals:")
    print(f"  p50 no slower than terminado: 1 typist {k1:.2f} vs {t1:.2f} ms, {sessions} typists "
          f"{k50:.2f} vs {t50:.2f} ms -> {'met' if k1 <= t1 * 1.05 and k50 <= t50 * 1.05 else 'NOT met'}")  # fmt: skip # noqa: E501
    print(
        f"  p99 < 25 ms at {sessions} typists: {k99:.2f} ms -> {'met' if k99 < 25 else 'NOT met'}"
    )
    print(f"  < 15 MB per idle session: {pss + server:.1f} MiB (PSS; RSS {rss + server:.1f}) -> "
          f"{'met' if rss + server < 15 else 'NOT met'}")  # fmt: skip


def main() -> None:
    exit_on_signals()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per server")
    parser.add_argument(
        "--server-args",
        default="",
        help='extra options for python -m kubelab.serve, e.g. "--loop asyncio --ws websockets"',
    )
    parser.add_argument("--terminado-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.terminado_server:
        terminado_server(args.terminado_server)
        return
    rounds = max(1, min(args.rounds, args.keys))
    asyncio.run(run_bench(args.sessions, args.keys, rounds, args.server_args.split()))


if __name__ == "__main__":
    main()
