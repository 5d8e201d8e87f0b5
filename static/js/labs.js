// The exercise checklist: Check and hint buttons, and live results from the ws/events/ socket.
// Results arrive as {type: "labs.result", exercise: "pods/kuard-pod", status, completed, checks:
// [{id, status, message: {en, "zh-hant"}}], retrying}; "labs.checking" marks a grading in flight;
// a class grading sends {type: "labs.results", results: [...]}, several of them at once.
(() => {
  "use strict";
  const panels = Array.from(document.querySelectorAll("[data-labs-panel]"));
  if (!panels.length) return;
  const strings = (document.getElementById("labs-strings") || { dataset: {} }).dataset;
  const language = (document.documentElement.lang || "en").toLowerCase();


  async function post(url) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": window.kubelabCsrfToken(), Accept: "application/json" },
    });
    if (!response.ok) {
      // A refusal the learner should read (429: too many Checks) comes as {error: sentence}.
      let sentence = "";
      try { sentence = (await response.json()).error || ""; } catch (ignored) { /* not JSON */ }
      const error = new Error(sentence || `${url}: ${response.status}`);
      error.sentence = sentence;
      throw error;
    }
    return response.json();
  }

  function exerciseElement(key) {
    return document.querySelector(`[data-labs-exercise="${CSS.escape(key)}"]`);
  }

  function localized(text) {
    if (!text || typeof text !== "object") return String(text || "");
    return text[language] || text.en || Object.values(text)[0] || "";
  }

  // Check messages are plain text; `backticks` become <code> without ever parsing HTML.
  function fillInlineCode(element, text) {
    element.textContent = "";
    String(text).split("`").forEach((part, index) => {
      if (!part) return;
      if (index % 2) {
        const code = document.createElement("code");
        code.textContent = part;
        element.appendChild(code);
      } else {
        element.appendChild(document.createTextNode(part));
      }
    });
  }

  function statusLabel(status, completed, retrying) {
    if (status === "checking") return strings.checking || "checking…";
    if (status === "starting" && !completed) return strings.starting || "starting…";
    if (completed) return strings.passed || "done";
    if (status === "inconclusive") return retrying ? strings.retrying : strings.inconclusive;
    if (status === "failed") return strings.failed || "not yet";
    return "";
  }

  function updateProgress() {
    panels.forEach((panel) => {
      const items = panel.querySelectorAll("[data-labs-exercise]");
      const done = panel.querySelectorAll('[data-labs-exercise][data-completed="true"]').length;
      const label = panel.querySelector("[data-labs-progress]");
      if (label && label.dataset.label) {
        label.textContent = label.dataset.label
          .replace("%(done)s", String(done))
          .replace("%(total)s", String(items.length));
      }
    });
  }

  function showChecking(event) {
    const item = exerciseElement(event.exercise);
    if (!item) return;
    item.dataset.status = "checking";
    const status = item.querySelector("[data-labs-status]");
    if (status) status.textContent = statusLabel("checking", item.dataset.completed === "true");
  }

  function showResult(event) {
    const item = exerciseElement(event.exercise);
    if (!item) return;
    const completed = item.dataset.completed === "true" || Boolean(event.completed);
    item.dataset.completed = completed ? "true" : "false";
    // A new guest's first gradings find no namespace yet: that is "starting", not a failure.
    const shown = event.starting ? "starting" : event.status;
    item.dataset.status = shown;
    const status = item.querySelector("[data-labs-status]");
    if (status) status.textContent = statusLabel(shown, completed, event.retrying);
    const list = item.querySelector("[data-labs-checks]");
    if (list) {
      list.textContent = "";
      // Each sentence once: checks on a missing object all say it is missing.
      const said = new Set();
      (event.checks || [])
        .filter((check) => check.status !== "pass")
        .forEach((check) => {
          const text = check.status === "inconclusive"
            ? localized(check.message) || strings.retrying || "could not check"
            : localized(check.message) || check.detail || check.id;
          if (said.has(`${check.status}:${text}`)) return;
          said.add(`${check.status}:${text}`);
          const li = document.createElement("li");
          li.className = "labs-check";
          li.dataset.status = event.starting ? "starting" : check.status;
          fillInlineCode(li, text);
          list.appendChild(li);
        });
    }
    updateProgress();
    document.dispatchEvent(new CustomEvent("labs:result", { detail: event }));
    refreshSoon(item);
  }

  // Re-render one exercise from the server (solution unlocking, hints), keeping what is open.
  const refreshTimers = new Map();
  function refreshSoon(item, delay = 400) {
    const key = item.dataset.labsExercise;
    clearTimeout(refreshTimers.get(key));
    refreshTimers.set(key, setTimeout(() => refresh(key), delay));
  }

  async function refresh(key) {
    const item = exerciseElement(key);
    if (!item || !item.dataset.panelUrl) return;
    try {
      const response = await fetch(item.dataset.panelUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = (await response.text()).trim(); // our own escaped, sanitised partial
      const fresh = holder.firstElementChild;
      const current = exerciseElement(key);
      if (!fresh || !current) return;
      const openBefore = Array.from(current.querySelectorAll("details")).map((d) => d.open);
      fresh.querySelectorAll("details").forEach((details, index) => {
        details.open = Boolean(openBefore[index]);
      });
      if (current.dataset.completed === "true") fresh.dataset.completed = "true";
      current.replaceWith(fresh);
      updateProgress();
    } catch (error) {
      /* the next result refreshes it again */
    }
  }

  // An imported scenario's "Set up this step": queued, then its outcome arrives as
  // {type: "labs.setup", exercise, ok, output}.
  function showSetup(event) {
    const item = exerciseElement(event.exercise);
    const status = item && item.querySelector("[data-labs-setup-status]");
    if (!status) return;
    status.dataset.ok = event.ok ? "true" : "false";
    status.textContent = event.ok
      ? strings.setUp || "set up"
      : `${strings.setupFailed || "setup failed:"} ${event.output || ""}`;
    const button = item.querySelector("[data-labs-setup]");
    if (button) button.disabled = false;
  }

  document.addEventListener("click", async (event) => {
    const setupButton = event.target.closest("[data-labs-setup]");
    if (setupButton) {
      event.preventDefault();
      const item = setupButton.closest("[data-labs-exercise]");
      const status = item.querySelector("[data-labs-setup-status]");
      setupButton.disabled = true;
      status.dataset.ok = "";
      status.textContent = strings.settingUp || "setting up…";
      try {
        await post(setupButton.dataset.url);
      } catch (error) {
        status.dataset.ok = "false";
        status.textContent = error.sentence || strings.error || "error";
        setupButton.disabled = false;
      }
      return;
    }
    const button = event.target.closest("[data-labs-check], [data-labs-hint]");
    if (!button) return;
    event.preventDefault();
    const item = button.closest("[data-labs-exercise]");
    button.disabled = true;
    try {
      if (button.hasAttribute("data-labs-check")) {
        showChecking({ exercise: item.dataset.labsExercise });
        await post(button.dataset.url);
      } else {
        const answer = await post(button.dataset.url);
        const list = item.querySelector("[data-labs-hints]");
        list.innerHTML = answer.hints.map((html) => `<li>${html}</li>`).join(""); // sanitised server-side
        if (answer.revealed >= answer.total) button.hidden = true;
        else refreshSoon(item, 0);
      }
    } catch (error) {
      const status = item.querySelector("[data-labs-status]");
      if (status) status.textContent = error.sentence || strings.error || "error";
      if (error.sentence) item.dataset.status = "refused";
    } finally {
      setTimeout(() => { button.disabled = false; }, 600);
    }
  });

  // The live socket (site.js): after a reconnect every exercise is re-rendered, so a result sent
  // while we were away is not lost.
  function connect() {
    window.kubelabLiveSocket("/ws/events/", {
      liveSelector: "[data-labs-live]",
      onOpen: (reconnected) => {
        if (reconnected) document.querySelectorAll("[data-labs-exercise]").forEach((i) => refreshSoon(i, 0));
      },
      onEvent: (event) => {
        if (event.type === "labs.result") showResult(event);
        else if (event.type === "labs.results") (event.results || []).forEach(showResult);
        else if (event.type === "labs.checking") showChecking(event);
        else if (event.type === "labs.setup") showSetup(event);
      },
    });
  }

  const autoCheck = panels.filter((panel) => panel.dataset.autoCheckUrl);
  if (autoCheck.length) {
    connect();
    // Opening the lesson turns on auto-checking for its labs (and grades them once now).
    const open = () => autoCheck.forEach((panel) => post(panel.dataset.autoCheckUrl).catch(() => {}));
    open();
    // Auto-checking lasts two hours per request; a page left open keeps it going.
    setInterval(open, 30 * 60 * 1000);
  }
  window.kubelabLabs = { refresh, showResult };
})();
