// The browser's storage, or a page-long memory where it is refused: inside an LMS's frame, a
// browser that blocks third-party storage throws on the first touch of localStorage, which
// would stop the terminal from starting at all. Settings then last as long as the page.
window.kubelabStorage = (() => {
  function open(name) {
    try {
      const store = window[name];
      store.getItem("kubelab");
      return store;
    } catch (refused) {
      const kept = new Map();
      return {
        getItem: (key) => (kept.has(key) ? kept.get(key) : null),
        setItem: (key, value) => { kept.set(key, String(value)); },
        removeItem: (key) => { kept.delete(key); },
      };
    }
  }
  return { local: open("localStorage"), session: open("sessionStorage") };
})();

// Site-wide behaviour that needs no framework: auto-submitting selects (the language switch).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

// A box that scrolls sideways (a wide code block, the gradebook) must be reachable by keyboard
// to scroll it (WCAG 2.1.1): such boxes join the Tab order while, and only while, they overflow,
// so narrow screens get the stops they need and wide ones none.
(() => {
  const SCROLLERS = "pre, .gradebook-scroll, .lesson-body table";
  function mark() {
    document.querySelectorAll(SCROLLERS).forEach((box) => {
      const authored = box.hasAttribute("tabindex") && !box.hasAttribute("data-scroll-focus");
      if (authored) return;
      if (box.scrollWidth > box.clientWidth + 1 && box.clientWidth > 0) {
        box.tabIndex = 0;
        box.dataset.scrollFocus = "";
      } else if (box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(mark, 100); };
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", later);
  document.addEventListener("toggle", later, true);  // a <details> opened shows its code
  window.kubelabScrollFocus = mark;  // for a page that shows hidden content itself (lesson tabs)
})();

// A page's live event socket: reconnects with backoff, pings every 25 s, and marks the elements
// matching `liveSelector` live/connecting. `onOpen(reconnected)` lets a page re-read what it
// may have missed while away; a close with one of `finalCodes` (logged out, not yours) is final.
// Scripts that ask for the same path share one socket (the checklist and the terminal panel
// both follow ws/events/), each with its own callbacks.
const kubelabSockets = new Map();
window.kubelabLiveSocket = function (path, subscriber) {
  const shared = kubelabSockets.get(path);
  if (shared) {
    shared.subscribers.push(subscriber);
    (subscriber.finalCodes || []).forEach((code) => shared.finalCodes.add(code));
    if (shared.open) {
      document.querySelectorAll(subscriber.liveSelector).forEach((el) => { el.dataset.state = "live"; });
      if (subscriber.onOpen) subscriber.onOpen(false);
    }
    return;
  }
  const state = { subscribers: [subscriber], finalCodes: new Set(subscriber.finalCodes || [4401]), open: false };
  kubelabSockets.set(path, state);
  let socket = null;
  let attempts = 0;
  let pingTimer = null;
  function setLive(value) {
    state.subscribers.forEach((s) => {
      if (!s.liveSelector) return;
      document.querySelectorAll(s.liveSelector).forEach((el) => { el.dataset.state = value; });
    });
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("open", () => {
      state.open = true;
      state.subscribers.forEach((s) => { if (s.onOpen) s.onOpen(attempts > 0); });
      attempts = 0;
      setLive("live");
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      state.subscribers.forEach((s) => { if (s.onEvent) s.onEvent(event); });
    });
    socket.addEventListener("close", (closed) => {
      state.open = false;
      clearInterval(pingTimer);
      setLive("connecting");
      if (state.finalCodes.has(closed.code)) return;
      attempts += 1;
      setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(attempts, 5)));
    });
  }
  connect();
};

// The CSRF token for a page's fetch POSTs (Django's cookie), for every script of the site.
window.kubelabCsrfToken = function () {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
};
