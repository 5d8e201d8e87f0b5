// The learner's terminal: xterm.js over /ws/terminal/, reconnecting by itself with a visible status.
// Protocol (JSON arrays): we send ["stdin", text], ["resize", rows, cols], ["ack", n], ["ping"];
// the server sends ["stdout", text], ["status", state, detail, sessionId], ["exit", code], ["pong"].
// Public API for the lesson page: window.kubelabTerminal.type(text), .focus().
// Keyboard: Tab is the shell's (completion); Esc then Tab (or Shift+Tab) leaves the terminal.
(() => {
  "use strict";
  const panel = document.querySelector("[data-terminal]");
  if (!panel || !window.Terminal) return;

  const MAX_STDIN = 32 * 1024; // the server refuses frames over 64 KiB; pastes go in slices
  const SESSION_KEY = "kubelab.terminal.session";
  const screen = panel.querySelector("[data-terminal-screen]");
  const statusEl = panel.querySelector("[data-terminal-status]");
  const statusText = panel.querySelector("[data-terminal-status-text]");
  const namespaceEl = panel.querySelector("[data-terminal-namespace]");
  const reconnectButton = panel.querySelector("[data-terminal-reconnect]");
  const screenReaderBox = panel.querySelector("[data-terminal-screen-reader]");
  const SCREEN_READER_KEY = "kubelab.terminal.screenReader";
  // xterm labels its input in English; the page gives the learner's language.
  if (panel.dataset.inputLabel) window.Terminal.strings.promptLabel = panel.dataset.inputLabel;

  const term = new window.Terminal({
    cursorBlink: true,
    convertEol: false,
    fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "Noto Sans Mono CJK TC", monospace',
    fontSize: 14,
    scrollback: 5000,
    allowProposedApi: false,
    // The account's setting (kept on the server, so it follows the learner to every browser).
    screenReaderMode: screenReaderBox.dataset.saved
      ? screenReaderBox.dataset.saved === "on"
      : window.kubelabStorage.local.getItem(SCREEN_READER_KEY) === "on",
    theme: { background: "#0d1117", foreground: "#e6edf3", cursor: "#58a6ff", selectionBackground: "#264f78" },
  });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  term.textarea.setAttribute("aria-describedby", "terminal-keys");
  safeFit();

  let ws = null;
  let state = "connecting";
  let retries = 0;
  let retryTimer = null;
  let pingTimer = null;
  let pendingAcks = 0;
  let ackTimer = null;
  let queued = []; // text typed by the lesson page before the socket was ready

  function setStatus(next, detail) {
    state = next;
    statusEl.dataset.state = next;
    const label = statusEl.dataset["label" + next.charAt(0).toUpperCase() + next.slice(1)] || next;
    statusText.textContent = detail ? `${label} (${detail})` : label;
    reconnectButton.hidden = !(next === "error" || next === "closed" || next === "reconnecting");
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function sendStdin(text) {
    for (let i = 0; i < text.length; i += MAX_STDIN) {
      if (!send(["stdin", text.slice(i, i + MAX_STDIN)])) {
        queued.push(text.slice(i));
        return;
      }
    }
  }

  // Flow control: acknowledge frames once xterm has drawn them, lazily. Typing echoes are tiny
  // and far from the server's 256 KiB window, so they are acked twice a second; a flood crosses
  // 32 KiB at once and is acked right away, keeping it flowing. Fewer acks, less server work.
  let pendingChars = 0;
  function flushAcks() {
    clearTimeout(ackTimer);
    ackTimer = null;
    if (pendingAcks > 0 && send(["ack", pendingAcks])) { pendingAcks = 0; pendingChars = 0; }
  }
  function ackLater(size) {
    pendingAcks += 1;
    pendingChars += size;
    if (pendingChars >= 32768 || pendingAcks >= 64) flushAcks();
    else if (ackTimer === null) ackTimer = setTimeout(flushAcks, 500);
  }

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const id = window.kubelabStorage.session.getItem(SESSION_KEY);
    const path = panel.dataset.wsPath + (id ? encodeURIComponent(id) + "/" : "");
    return `${scheme}//${location.host}${path}?rows=${term.rows}&cols=${term.cols}`;
  }

  function connect() {
    clearTimeout(retryTimer);
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) return;
    setStatus(retries ? "reconnecting" : "connecting");
    const socket = new WebSocket(url());
    ws = socket;
    socket.onopen = () => {
      retries = 0;
      pendingAcks = 0;
      send(["resize", term.rows, term.cols]);
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send(["ping"]), 25000);
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      if (!Array.isArray(message)) return;
      const [kind, ...args] = message;
      if (kind === "stdout") {
        const text = String(args[0]);
        term.write(text, () => ackLater(text.length));
      } else if (kind === "status") {
        onStatus(args[0], args[1], args[2]);
      } else if (kind === "exit") {
        setStatus("ended");
      } else if (kind === "notice") {
        // kubectl printed a refusal; environment.js explains it beside the terminal.
        document.dispatchEvent(new CustomEvent("kubelab:notice", { detail: { kind: args[0], explanations: args[1] } }));
      }
    };
    socket.onclose = (event) => {
      clearInterval(pingTimer);
      if (ws !== socket) return;
      ws = null;
      if (event.code === 4401) { setStatus("login"); return; }
      if (event.code === 4403 || event.code === 4400) window.kubelabStorage.session.removeItem(SESSION_KEY);
      if (state === "closed") return;
      retries += 1;
      const delay = Math.min(8000, 300 * 2 ** Math.min(retries, 5));
      setStatus("reconnecting", `${Math.round(delay / 1000)}s`);
      retryTimer = setTimeout(connect, delay);
    };
  }

  function onStatus(kind, detail, sessionId) {
    if (sessionId) window.kubelabStorage.session.setItem(SESSION_KEY, sessionId);
    if (kind === "attached") {
      // The server replays the scrollback next: start from a clean screen.
      term.reset();
      setStatus(detail === "running" ? "ready" : detail === "ended" ? "ended" : "starting");
      flushQueued();
    } else if (kind === "starting") {
      setStatus("starting");
    } else if (kind === "running") {
      if (detail) namespaceEl.textContent = detail;
      setStatus("ready");
      flushQueued();
    } else if (kind === "error") {
      setStatus("error", detail);
    } else if (kind === "closed") {
      window.kubelabStorage.session.removeItem(SESSION_KEY);
      setStatus("closed", detail);
    } else if (kind === "idle-warning") {
      // The shell keeps running (state stays ready); only the line says what is coming.
      const minutes = Math.max(1, Math.ceil(Number(detail) / 60));
      statusEl.dataset.state = "idle";
      statusText.textContent = (statusEl.dataset.labelIdle || "idle").replace("%(minutes)s", minutes);
    }
  }

  function flushQueued() {
    const pending = queued.join("");
    queued = [];
    if (pending) sendStdin(pending);
  }

  function safeFit() {
    // A hidden panel (the phone layout's other tab) has no size: fitting it would shrink the
    // shell to a sliver; it fits when shown (the ResizeObserver below sees it appear).
    if (screen.clientWidth === 0 || screen.clientHeight === 0) return;
    try { fit.fit(); } catch (_) { /* not laid out yet */ }
  }

  term.onData((data) => {
    if (state === "closed") { connect(); }
    sendStdin(data);
  });
  term.onResize(({ rows, cols }) => send(["resize", rows, cols]));
  // Leaving the terminal by keyboard (WCAG 2.1.2, no keyboard trap), CodeMirror's convention:
  // Esc still reaches the shell (vim needs it); a Tab or Shift+Tab within ESCAPE_MS of it, with
  // no other key between, is not sent and moves focus out instead.
  const ESCAPE_MS = 2000;
  const MODIFIERS = new Set(["Shift", "Control", "Alt", "Meta", "AltGraph"]);
  let escapedAt = null;
  function leavesTerminal(event) {
    if (event.key === "Escape") { escapedAt = performance.now(); return false; }
    if (MODIFIERS.has(event.key)) return false;
    const leaving = event.key === "Tab" && escapedAt !== null && !event.ctrlKey && !event.altKey &&
      !event.metaKey && performance.now() - escapedAt < ESCAPE_MS;
    escapedAt = null;
    return leaving;
  }
  const TABBABLE = "a[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable='true']";
  function focusOutside(backwards) {
    const inside = term.element;
    const candidates = [...document.querySelectorAll(TABBABLE)].filter((el) =>
      !inside.contains(el) && el.tabIndex >= 0 && !el.disabled && !el.closest("[inert]") &&
      el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden");
    const after = candidates.filter((el) => inside.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    const before = candidates.filter((el) => inside.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING);
    // At either end of the page, go round as the browser's own Tab order would within the page.
    const target = backwards ? (before.pop() || after.pop()) : (after[0] || before[0]);
    if (target) target.focus(); else term.blur();
  }

  // With a selection, Ctrl+C copies (as in desktop terminals); without one it interrupts.
  term.attachCustomKeyEventHandler((event) => {
    if (event.type === "keydown" && leavesTerminal(event)) {
      event.preventDefault();
      focusOutside(event.shiftKey);
      return false;
    }
    if (event.type === "keydown" && (event.ctrlKey || event.metaKey) && event.key === "c" && term.hasSelection()) {
      navigator.clipboard && navigator.clipboard.writeText(term.getSelection()).catch(() => {});
      return false;
    }
    return true;
  });

  let fitTimer = null;
  const refit = () => { clearTimeout(fitTimer); fitTimer = setTimeout(safeFit, 50); };
  window.addEventListener("resize", refit);
  if (window.ResizeObserver) new ResizeObserver(refit).observe(screen);
  window.addEventListener("online", () => { retries = 0; connect(); });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !ws) { retries = 0; connect(); }
  });
  reconnectButton.addEventListener("click", () => { retries = 0; setStatus("connecting"); connect(); });
  // Screen reader mode: xterm keeps an accessible copy of the screen and announces new output.
  screenReaderBox.checked = term.options.screenReaderMode;
  screenReaderBox.addEventListener("change", () => {
    term.options.screenReaderMode = screenReaderBox.checked;
    window.kubelabStorage.local.setItem(SCREEN_READER_KEY, screenReaderBox.checked ? "on" : "off");
    const body = new URLSearchParams({ on: screenReaderBox.checked ? "true" : "false" });
    fetch(screenReaderBox.dataset.url, {
      method: "POST", credentials: "same-origin", body,
      headers: { "X-CSRFToken": window.kubelabCsrfToken(), Accept: "application/json" },
    }).then((answer) => {
      if (answer.ok) screenReaderBox.dataset.saved = screenReaderBox.checked ? "on" : "off";
    }).catch(() => { /* kept in this browser; the account keeps the last saved value */ });
  });

  window.kubelabTerminal = {
    /** Type text into the learner's shell; "\n" becomes Enter. Queued until connected. */
    type(text) {
      const keys = String(text).replace(/\r?\n/g, "\r");
      if (state === "closed") connect();
      if (state === "ended" && send(["stdin", "\r"])) {
        queued.push(keys); // restart first; the text goes in once the new shell runs
      } else if (state === "ready") {
        sendStdin(keys);
      } else {
        queued.push(keys);
      }
    },
    focus() { term.focus(); },
    get state() { return state; },
    get sessionId() { return window.kubelabStorage.session.getItem(SESSION_KEY); },
  };

  connect();
})();
