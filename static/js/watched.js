// Tells the learner who is watching their terminal and namespace picture ([data-watched-notice]):
// read when the page's event socket opens, and again on every {type: "watch.changed"} event.
(function () {
  const notice = document.querySelector("[data-watched-notice]");
  if (!notice || !window.kubelabLiveSocket) return;
  async function load() {
    try {
      const answer = await fetch(notice.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const body = await answer.json();
      notice.textContent = body.notice || "";
      notice.hidden = !body.notice;
    } catch (error) {
      // Offline for a moment: the next open or event reads it again.
    }
  }
  window.kubelabLiveSocket("/ws/events/", {
    onOpen: () => load(),
    onEvent: (event) => { if (event.type === "watch.changed") load(); },
  });
})();
