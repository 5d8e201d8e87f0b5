"""One learner's terminal: the shell in its jail, its pty, the scrollback and the screens
watching it.

Everything here runs on the event loop and never blocks it: the pty and the process are watched
with add_reader (pidfd for exit), and output flows to screens through a ring buffer, at most
`window_bytes` unacknowledged per screen, so a flood (`yes`) is paced by the slowest screen
instead of filling memory. Input the shell is not reading waits here, up to a bound.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import errno
import fcntl
import logging
import os
import secrets
import signal
import struct
import subprocess
import termios
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from jails.errors import JailError
from jails.kubeconfig import jail_kubeconfig
from jails.kubectl import kubectl_completion
from jails.launch import LAUNCH_ENV, PreparedJail, jail_prepare, seccomp_open
from jails.learner import WELCOME, welcome_line
from jails.seccomp import with_seccomp
from jails.sessiondir import session_file_write
from terminal import protocol
from terminal.config import TerminalConfig
from terminal.refusals import RefusalSpotter
from terminal.ring import Ring

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
SEND_CHUNK = 32 * 1024
MAX_PENDING_INPUT = 256 * 1024
ENDED_NOTICE = "session ended, press Enter to restart"
IDLE_ENDED_NOTICE = "idle for %(minutes)s min; " + ENDED_NOTICE

KubeconfigSource = Callable[[], Awaitable[str]]
NoticeSource = Callable[[], Awaitable[str | None]]
ActivityHook = Callable[[], Awaitable[None]]
ACTIVITY_EVERY = 60.0  # seconds between "the learner is typing" reports to the sandbox app


# The terminal could not be started; the message says what to do next. A jail that cannot
# start is the same trouble for the learner, so it is the same class.
TerminalError = JailError


@dataclass(frozen=True)
class ShellTexts:
    """What the terminal itself prints in the shell, in the learner's language (terminal.texts
    translates them; these English ones are the default). `welcome` is jails.learner.welcome_line's
    template, `idle_ended` holds %(minutes)s."""

    welcome: str = WELCOME
    ended: str = ENDED_NOTICE
    idle_ended: str = IDLE_ENDED_NOTICE


class Screen(Protocol):
    """One attached browser tab, as the manager sees it (the consumer implements this)."""

    async def send_text(self, text: str) -> None: ...


@dataclass(eq=False)
class Attachment:
    screen: Screen
    cursor: int
    inflight: deque[int] = field(default_factory=deque)
    inflight_bytes: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    fresh: bool = True
    task: asyncio.Task[None] | None = None
    # An instructor looking over the learner's shoulder: sees the output, never paces it (a
    # slow watcher skips ahead instead), never keeps an abandoned shell alive, never types.
    watcher: bool = False


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class TerminalSession:
    """A learner's shell in a jail, its pty, its scrollback and the screens attached to it."""

    def __init__(
        self,
        config: TerminalConfig,
        *,
        owner_id: int,
        kubeconfig_source: KubeconfigSource,
        rows: int = 24,
        cols: int = 80,
    ) -> None:
        self.config = config
        self.id = secrets.token_urlsafe(12)
        self.owner_id = owner_id
        self.kubeconfig_source = kubeconfig_source
        self.ring = Ring(self.config.ring_bytes)
        self.rows, self.cols = rows, cols
        self.namespace = ""
        self.state = "new"  # new -> starting -> running -> ended -> (starting ...) | closed
        self.exit_code: int | None = None
        self.attachments: list[Attachment] = []
        self.last_input = time.monotonic()
        self.idle_warned = False
        self.detached_at: float | None = time.monotonic()
        self.read_since_detach = 0
        self.reader_active = False
        self._loop = asyncio.get_running_loop()
        self._master: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pidfd: int | None = None
        self._jail: PreparedJail | None = None
        self._pending_input = bytearray()
        self._writer_active = False
        self._start_lock = asyncio.Lock()
        self.on_activity: ActivityHook | None = None
        # A sentence to print above the first prompt (what the learner's environment restored).
        self.notice_source: NoticeSource | None = None
        self._reported_at = 0.0
        self.kubeconfig_at = 0.0
        # kubectl's refusals in the output, explained beside the terminal ("notice" frames).
        self.refusals: RefusalSpotter | None = None
        self.texts = ShellTexts()

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def host_uid(self) -> int | None:
        return self._jail.host_uid if self._jail else None

    @property
    def _dir(self) -> Path | None:
        return self._jail.directory if self._jail else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        async with self._start_lock:
            if self.state in ("running", "starting", "closed"):
                return
            self.state = "starting"
            self._broadcast_status("starting", "starting your terminal")
            try:
                await self._spawn()
            except Exception as exc:
                await self._release()
                self.state = "ended"
                self.exit_code = None
                message = str(exc) if isinstance(exc, TerminalError) else "internal error"
                if not isinstance(exc, TerminalError):
                    log.exception("terminal %s failed to start", self.id)
                self._append_notice(f"terminal could not start: {message}")
                self._broadcast_status("error", message)
                return
            self.state = "running"
            self._update_reader()
            self._broadcast_status("running", self.namespace)

    async def _spawn(self) -> None:
        original = await self.kubeconfig_source()
        jailed = jail_kubeconfig(original)
        self.kubeconfig_at = time.monotonic()
        self.namespace = jailed.namespace
        if self.notice_source is not None:
            try:
                notice = await self.notice_source()
            except Exception:
                log.exception("terminal %s: the environment notice failed", self.id)
                notice = None
            if notice:
                self._append_notice(notice)
        jail = self.config.jail
        completion = await kubectl_completion(jail.kubectl) if jail.kubectl else ""
        welcome = welcome_line(namespace=self.namespace, template=self.texts.welcome)
        self._jail = await jail_prepare(
            config=jail,
            kubeconfig=jailed,
            completion=completion,
            name_prefix="s-",
            extra_files={"welcome": (welcome, 0o444)},
        )
        argv = self._jail.argv
        filter_fd = await seccomp_open()
        master, slave = os.openpty()
        try:
            _set_winsize(master, self.rows, self.cols)
            # Spawned from the loop's thread on purpose: bwrap --die-with-parent is tied to the
            # spawning thread, and a short-lived executor thread would take the shell with it.
            self._proc = subprocess.Popen(  # noqa: ASYNC220
                with_seccomp(argv, filter_fd),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=LAUNCH_ENV,
                cwd="/",
                start_new_session=True,
                close_fds=True,
                pass_fds=(filter_fd,),
            )
        except OSError as exc:
            os.close(master)
            raise TerminalError(f"cannot start the jail: {exc}") from exc
        finally:
            os.close(slave)
            os.close(filter_fd)
        os.set_blocking(master, False)
        self._master = master
        self.exit_code = None
        self._pidfd = os.pidfd_open(self._proc.pid)
        self._loop.add_reader(self._pidfd, self._on_process_exit)

    def _on_process_exit(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        code = self._proc.wait() if self._proc else None
        self._drain_pty()
        self._loop.create_task(self.end(code))

    def _drain_pty(self) -> None:
        if self._master is None:
            return
        for _ in range(64):
            try:
                data = os.read(self._master, READ_CHUNK)
            except OSError:
                break
            if not data:
                break
            self.ring.write(data)
        self._notify_screens()

    async def end(self, code: int | None, *, notice: str | None = None) -> None:
        """The shell is gone, or is ended now: free the jail, print ``notice`` (by default that
        Enter starts a new shell) under its output and tell the screens the exit code."""
        if self.state in ("ended", "closed"):
            return
        if notice is None:
            notice = self.texts.ended
        self.state = "ended"
        self.exit_code = code
        await self._release()
        self._append_notice(notice)
        self._broadcast(protocol.encode("exit", code if code is not None else -1))

    async def _release(self) -> None:
        """Stop the jail and free everything it held; safe to call twice."""
        if self._master is not None:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)
            self.reader_active = self._writer_active = False
        self._pending_input.clear()
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()  # bwrap: --die-with-parent takes the whole pid namespace down
        if self._jail is not None:
            self._jail.cgroup.kill_all()
        if self._proc is not None:
            for _ in range(100):
                if self._proc.poll() is not None:
                    break
                await asyncio.sleep(0.02)
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._master is not None:
            os.close(self._master)
            self._master = None
        if self._jail is not None:
            await self._jail.release()
            self._jail = None

    def warn_idle(self, seconds_left: float) -> None:
        """Say in the status line (not in the output: a full-screen program owns the screen)
        that the shell ends soon without input; the next keystroke takes the warning back."""
        self.idle_warned = True
        self._broadcast_status("idle-warning", str(max(1, round(seconds_left))))

    async def refresh_kubeconfig(self) -> None:
        """Swap in a fresh token (the directory is bind-mounted, so a rename shows inside)."""
        self.kubeconfig_at = time.monotonic()
        try:
            jailed = jail_kubeconfig(await self.kubeconfig_source())
        except Exception as exc:
            log.warning("terminal %s: kubeconfig refresh failed: %s", self.id, exc)
            return
        if self._dir is None or self.state != "running":
            return
        session_file_write(self._dir, "kubeconfig", jailed.text, 0o400, self.host_uid)

    async def close(self, reason: str = "closed") -> None:
        """End the session for good (grace expired, server stopping) and tell the screens."""
        if self.state == "closed":
            return
        if self.state != "ended":
            await self.end(None, notice=f"session closed: {reason}")
        self.state = "closed"
        self._broadcast_status("closed", reason)
        for attachment in list(self.attachments):
            self.detach(attachment)

    # ----- input -----------------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.last_input = now = time.monotonic()
        if self.idle_warned:
            self.idle_warned = False
            if self.state == "running":
                self._broadcast_status("running", self.namespace)  # clears the warning
        if self.on_activity is not None and now - self._reported_at > ACTIVITY_EVERY:
            self._reported_at = now
            self._loop.create_task(_quietly(self.on_activity()))
        if self.state == "ended":
            if "\r" in text or "\n" in text:
                self.ring.clear()
                self._loop.create_task(self.start())
            return
        if self.state != "running" or self._master is None:
            return
        data = text.encode("utf-8")
        if self._pending_input and self._signal_past_pending(data):
            return
        if len(self._pending_input) + len(data) > MAX_PENDING_INPUT:
            self._broadcast_status("input-dropped", "the shell is not reading; input dropped")
            return
        self._pending_input += data
        self._flush_input()

    def _signal_past_pending(self, data: bytes) -> bool:
        """Ctrl-C, Ctrl-\\ or Ctrl-Z typed while the program is not reading its input: the pty's
        queue is full and input waits here, so the key would wait behind it, maybe for ever. Do
        what the tty does for that key instead: drop the unread input and signal the foreground
        job. Only when the tty would (ISIG set, the key is its INTR, QUIT or SUSP character);
        in raw mode the key is input like any other."""
        assert self._master is not None
        try:
            attrs = termios.tcgetattr(self._master)
            foreground = os.tcgetpgrp(self._master)
        except (OSError, termios.error):
            return False
        if not attrs[3] & termios.ISIG:
            return False
        keys = {
            attrs[6][termios.VINTR]: signal.SIGINT,
            attrs[6][termios.VQUIT]: signal.SIGQUIT,
            attrs[6][termios.VSUSP]: signal.SIGTSTP,
        }
        keys.pop(b"\x00", None)  # a disabled key (_POSIX_VDISABLE)
        sig = next((keys[bytes([b])] for b in data if bytes([b]) in keys), None)
        if sig is None:
            return False
        self._pending_input.clear()
        self._flush_input()  # nothing pending: stop waiting for the pty to take input
        with contextlib.suppress(OSError, termios.error):
            termios.tcflush(self._master, termios.TCOFLUSH)  # what the pty holds, unread
        with contextlib.suppress(OSError):
            # The tty's foreground group is in the jail's session (tcsetpgrp allows no other).
            os.killpg(foreground, sig)
        return True

    def _flush_input(self) -> None:
        if self._master is None:
            return
        while self._pending_input:
            try:
                written = os.write(self._master, self._pending_input[:4096])
            except BlockingIOError:
                break
            except OSError:
                self._pending_input.clear()
                break
            del self._pending_input[:written]
        want_writer = bool(self._pending_input)
        if want_writer != self._writer_active:
            if want_writer:
                self._loop.add_writer(self._master, self._flush_input)
            else:
                self._loop.remove_writer(self._master)
            self._writer_active = want_writer

    def resize(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        if self._master is not None:
            with contextlib.suppress(OSError):
                _set_winsize(self._master, rows, cols)
        # Watchers draw the learner's screen at the learner's size.
        for attachment in self.attachments:
            if attachment.watcher:
                self._loop.create_task(
                    _safe_send(
                        attachment.screen, protocol.encode("status", "size", self.size, self.id)
                    )
                )

    @property
    def size(self) -> str:
        return f"{self.rows}x{self.cols}"

    def _nudge_redraw(self) -> None:
        """SIGWINCH the foreground job so full-screen programs redraw for a new screen."""
        if self._master is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(os.tcgetpgrp(self._master), signal.SIGWINCH)

    # ----- output ----------------------------------------------------------------------------

    @property
    def screens(self) -> list[Attachment]:
        """The learner's own screens (watchers left out)."""
        return [a for a in self.attachments if not a.watcher]

    def _wants_output(self) -> bool:
        if self._master is None or self.state != "running":
            return False
        screens = self.screens
        if not screens:
            # No screen of the learner's: keep a scrollback's worth, then let the program block.
            return self.read_since_detach < self.ring.capacity
        # Read while some screen has room; screens without room fall behind in the ring.
        return any(a.inflight_bytes < self.config.window_bytes for a in screens)

    def _update_reader(self) -> None:
        want = self._wants_output()
        if want != self.reader_active and self._master is not None:
            if want:
                self._loop.add_reader(self._master, self._on_readable)
            else:
                self._loop.remove_reader(self._master)
            self.reader_active = want

    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("terminal %s pty read failed: %s", self.id, exc)
            data = b""
        if not data:
            # All slave ends closed; the pidfd callback finishes the session.
            self._loop.remove_reader(self._master)
            self.reader_active = False
            return
        self.ring.write(data)
        if not self.screens:
            self.read_since_detach += len(data)
        elif self.refusals is not None:
            for explained in self.refusals.feed(data):
                self._broadcast(protocol.encode("notice", "refusal", explained))
        self._notify_screens()
        self._update_reader()

    def _notify_screens(self) -> None:
        for attachment in self.attachments:
            attachment.wake.set()

    def _append_notice(self, text: str) -> None:
        self.ring.write(f"\r\n\x1b[1;33m[{text}]\x1b[0m\r\n".encode())
        self._notify_screens()

    def _broadcast(self, text: str) -> None:
        for attachment in self.attachments:
            self._loop.create_task(_safe_send(attachment.screen, text))

    def _broadcast_status(self, state: str, detail: str) -> None:
        self._broadcast(protocol.encode("status", state, detail, self.id))

    async def _pump(self, attachment: Attachment) -> None:
        """Send the ring from the screen's cursor, within its flow-control window."""
        window = self.config.window_bytes
        while True:
            await attachment.wake.wait()
            attachment.wake.clear()
            while attachment.cursor < self.ring.head and attachment.inflight_bytes < window:
                offset, data = self.ring.read(attachment.cursor, SEND_CHUNK)
                if offset > attachment.cursor:
                    # This screen fell more than a scrollback behind; skip what is gone.
                    attachment.decoder.reset()
                    if not attachment.fresh:
                        await attachment.screen.send_text(
                            protocol.encode("stdout", "\r\n\x1b[2m[output skipped]\x1b[0m\r\n")
                        )
                    elif offset > 0 and b"\n" in data:
                        # A replay that starts mid-line (or mid-escape) starts at the next line.
                        skip = data.index(b"\n") + 1
                        offset, data = offset + skip, data[skip:]
                attachment.fresh = False
                attachment.cursor = offset + len(data)
                text = attachment.decoder.decode(data)
                if not text:
                    continue
                attachment.inflight.append(len(data))
                attachment.inflight_bytes += len(data)
                await attachment.screen.send_text(protocol.encode_stdout(text))
            self._update_reader()

    # ----- screens ---------------------------------------------------------------------------

    def attach(self, screen: Screen, *, watcher: bool = False) -> Attachment:
        attachment = Attachment(screen=screen, cursor=self.ring.tail, watcher=watcher)
        self.attachments.append(attachment)
        if not watcher:
            self.detached_at = None
            self.read_since_detach = 0
        attachment.task = self._loop.create_task(self._pump(attachment))
        attachment.wake.set()
        self._update_reader()
        self._loop.call_later(0.05, self._nudge_redraw)
        return attachment

    def detach(self, attachment: Attachment) -> None:
        if attachment in self.attachments:
            self.attachments.remove(attachment)
        if attachment.task is not None:
            attachment.task.cancel()
        if not attachment.watcher and not self.screens:
            self.detached_at = time.monotonic()
            self.read_since_detach = 0
        self._update_reader()

    def ack(self, attachment: Attachment, count: int) -> None:
        for _ in range(min(count, len(attachment.inflight))):
            attachment.inflight_bytes -= attachment.inflight.popleft()
        attachment.wake.set()
        self._update_reader()


async def _quietly(awaitable: Awaitable[None]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("terminal activity hook failed")


async def _safe_send(screen: Screen, text: str) -> None:
    with contextlib.suppress(Exception):
        await screen.send_text(text)
