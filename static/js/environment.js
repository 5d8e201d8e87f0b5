// The learner's environment beside the terminal: the Reset button (with a confirmation that says
// what is deleted and what is kept) and notices that explain what the cluster refused.
// Notices come from three places: GET /sandbox/denials when the page opens, live
// {type: "sandbox.denials", denials: [...]} events on ws/events/ (a Deployment scaled past the
// pod quota: its controller's refusals), and the terminal's "notice" frames (kubectl printed a
// refusal: terminal.js turns them into "kubelab:notice" events). Texts come in every language
// ({en, "zh-hant"}); the page's is shown.
(() => {
  "use strict";
  const panel = document.querySelector("[data-environment-notices]");
  if (!panel) return;
  const list = panel.querySelector("[data-environment-notices-list]");
  const strings = (document.getElementById("environment-strings") || { dataset: {} }).dataset;
  const language = (document.documentElement.lang || "en").toLowerCase();
  const resetButton = document.querySelector("[data-environment-reset]");
  const dialog = document.querySelector("[data-environment-reset-dialog]");


  function localized(texts, fallback) {
    if (!texts || typeof texts !== "object") return String(fallback || "");
    return texts[language] || texts.en || Object.values(texts)[0] || String(fallback || "");
  }

  // One notice per source key: the controllers' denials replace each other as a set, a refusal
  // typed in the terminal replaces the previous one; the learner can dismiss any.
  function showNotice(key, kind, text, subject) {
    let item = list.querySelector(`[data-notice-key="${CSS.escape(key)}"]`);
    if (!item) {
      item = document.createElement("li");
      item.className = "environment-notice";
      item.dataset.noticeKey = key;
      const body = document.createElement("span");
      body.className = "environment-notice__text";
      body.dataset.noticeText = "";
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "environment-notice__dismiss";
      dismiss.textContent = "×";
      dismiss.setAttribute("aria-label", strings.dismiss || "Dismiss");
      dismiss.addEventListener("click", () => item.remove());
      item.append(body, dismiss);
      list.appendChild(item);
    }
    item.dataset.kind = kind;
    const body = item.querySelector("[data-notice-text]");
    body.textContent = "";
    if (subject) {
      const code = document.createElement("code");
      code.textContent = subject;
      body.append(code, document.createTextNode(": "));
    }
    body.append(document.createTextNode(text));
  }

  function showDenials(denials) {
    list.querySelectorAll('[data-notice-key^="denial:"]').forEach((item) => item.remove());
    (denials || []).forEach((denial) => {
      showNotice(
        `denial:${denial.object}`,
        denial.kind || "other",
        localized(denial.explanations, denial.explanation),
        denial.object
      );
    });
  }

  async function loadDenials() {
    try {
      const response = await fetch(panel.dataset.url, { credentials: "same-origin" });
      if (!response.ok) return;
      showDenials((await response.json()).denials);
    } catch (error) {
      /* live events still come */
    }
  }

  document.addEventListener("kubelab:notice", (event) => {
    const detail = event.detail || {};
    showNotice("refusal", detail.kind || "refusal", localized(detail.explanations, ""), strings.refused || "");
  });

  window.kubelabLiveSocket("/ws/events/", {
    onOpen: () => loadDenials(),
    onEvent: (event) => {
      if (event.type === "sandbox.denials") showDenials(event.denials);
    },
  });

  function say(key, text) {
    showNotice(key, "reset", text, "");
  }

  async function reset() {
    resetButton.disabled = true;
    say("reset", strings.resetting || "…");
    try {
      const response = await fetch(resetButton.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": window.kubelabCsrfToken(), Accept: "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        say("reset", body.error || body.message || strings.resetFailed || "");
        return;
      }
      if (body.status !== "ready") {
        say("reset", body.message || strings.resetFailed || "");
        return;
      }
      showDenials(body.denials);
      say("reset", strings.resetDone || "");
      document.dispatchEvent(new CustomEvent("kubelab:reset", { detail: body }));
    } catch (error) {
      say("reset", strings.resetFailed || "");
    } finally {
      resetButton.disabled = false;
    }
  }

  if (resetButton && dialog) {
    resetButton.addEventListener("click", () => {
      dialog.returnValue = ""; // Esc closes without one, and the last answer would stay
      dialog.showModal();
    });
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "reset") reset();
      resetButton.focus();
    });
  }
})();
