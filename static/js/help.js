// "Ask for help" on the exercise checklist: the button posts ask or cancel (classes:help), and
// {type: "help.changed", lab, exercise, open, reason} from the ws/events/ socket sets it live,
// so another tab, or an instructor marking the request helped, resets it. labs.js re-renders an
// exercise from the server after a result or a reconnect; the server renders the state too.
(() => {
  "use strict";
  if (!document.querySelector("[data-labs-help]")) return;
  const labStrings = (document.getElementById("labs-strings") || { dataset: {} }).dataset;


  function formFor(key) {
    const item = document.querySelector(`[data-labs-exercise="${CSS.escape(key)}"]`);
    return item && item.querySelector("[data-labs-help]");
  }

  function show(form, open, note) {
    const text = form.dataset;
    form.dataset.open = open ? "true" : "false";
    const action = form.querySelector("[data-help-action]");
    if (action) action.value = open ? "cancel" : "ask";
    const button = form.querySelector("[data-help-button]");
    if (button) {
      button.textContent = open ? text.textCancel : text.textAsk;
      // Visible "Cancel" alone would not say what it cancels.
      if (open) button.setAttribute("aria-label", text.textCancelLabel);
      else button.removeAttribute("aria-label");
    }
    const status = form.querySelector("[data-help-status]");
    if (status) status.textContent = note !== undefined ? note : open ? text.textAsked : "";
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("[data-labs-help]");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("[data-help-button]");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": window.kubelabCsrfToken(), Accept: "application/json" },
        body: new FormData(form),
      });
      let answer = {};
      try { answer = await response.json(); } catch (ignored) { /* not JSON */ }
      if (!response.ok) throw new Error(answer.error || "");
      show(form, Boolean(answer.open));
    } catch (error) {
      const status = form.querySelector("[data-help-status]");
      // A refusal the learner should read (429: asked too often) comes as {error: sentence}.
      if (status) status.textContent = error.message || labStrings.error || "error";
    } finally {
      if (button) button.disabled = false;
    }
  });

  window.kubelabLiveSocket("/ws/events/", {
    onEvent: (event) => {
      if (event.type !== "help.changed") return;
      const form = formFor(`${event.lab}/${event.exercise}`);
      if (!form) return;
      const helped = !event.open && event.reason === "helped";
      show(form, Boolean(event.open), helped ? form.dataset.textHelped : undefined);
    },
  });
})();
