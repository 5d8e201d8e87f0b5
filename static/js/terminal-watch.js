// An instructor's read-only view of a student's terminal ([data-terminal-watch]). The socket
// speaks the terminal's protocol; the server drops any keystroke or resize from here, and the
// xterm takes no input either. Frames are acked once drawn, as the student's own screen does.
(function () {
  const panel = document.querySelector("[data-terminal-watch]");
  if (!panel || !window.Terminal) return;
  const status = panel.querySelector("[data-terminal-watch-status]");
  const statusText = panel.querySelector("[data-terminal-watch-status-text]");
  const term = new window.Terminal({
    disableStdin: true,
    cursorBlink: false,
    convertEol: false,
    scrollback: 5000,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    fontSize: 14,
    theme: { background: "#0d1117", foreground: "#e6edf3", cursor: "#58a6ff" },
  });
  term.open(panel.querySelector("[data-terminal-watch-screen]"));
  window.kubelabWatchTerminal = term;  // the chromium test reads what it shows

  function say(state) {
    status.dataset.state = state;
    statusText.textContent = status.dataset["label" + state[0].toUpperCase() + state.slice(1)] || state;
  }
  function sizeTo(detail) {
    const match = /^(\d+)x(\d+)$/.exec(detail || "");
    if (match) term.resize(Number(match[2]), Number(match[1]));
  }

  let socket = null;
  let pingTimer = null;
  let retry = 1000;
  let acks = 0;
  let stop = false;
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${panel.dataset.wsPath}`);
    say("connecting");
    socket.addEventListener("open", () => {
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send(["ping"]), 20000);
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (error) { return; }
      const [kind, a, b] = frame;
      if (kind === "stdout") {
        term.write(a, () => { acks += 1; if (acks >= 8) { send(["ack", acks]); acks = 0; } });
        setTimeout(() => { if (acks) { send(["ack", acks]); acks = 0; } }, 300);
      } else if (kind === "status") {
        if (a === "watching") { term.reset(); sizeTo(b); retry = 1000; say("watching"); }
        else if (a === "size") sizeTo(b);
        else if (a === "absent") say("absent");
        else if (a === "ignored" && b === "read-only") say("readonly");
      } else if (kind === "exit") {
        say("ended");
      }
    });
    socket.addEventListener("close", (closed) => {
      clearInterval(pingTimer);
      if (closed.code === 4401 || closed.code === 4404) { say("refused"); stop = true; return; }
      if (stop) return;
      if (closed.code !== 4410) say("connecting");
      setTimeout(connect, closed.code === 4410 ? 4000 : retry);
      retry = Math.min(retry * 2, 10000);
    });
  }
  // Typing here does nothing on the student's side; say so instead of staying silent.
  term.onKey(() => send(["stdin", ""]));
  connect();
})();
