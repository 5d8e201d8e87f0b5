// Site-wide behaviour that needs no framework: auto-submitting selects (the language switch).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

// A page's live event socket: reconnects with backoff, pings every 25 s, and marks the elements
// matching `liveSelector` live/connecting. `onOpen(reconnected)` lets a page re-read what it
// may have missed while away; a close with one of `finalCodes` (logged out, not yours) is final.
window.kubelabLiveSocket = function (path, { onEvent, onOpen, liveSelector, finalCodes = [4401] }) {
  let socket = null;
  let attempts = 0;
  let pingTimer = null;
  function setLive(state) {
    document.querySelectorAll(liveSelector).forEach((el) => { el.dataset.state = state; });
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("open", () => {
      if (onOpen) onOpen(attempts > 0);
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
      onEvent(event);
    });
    socket.addEventListener("close", (closed) => {
      clearInterval(pingTimer);
      setLive("connecting");
      if (finalCodes.includes(closed.code)) return;
      attempts += 1;
      setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(attempts, 5)));
    });
  }
  connect();
};
