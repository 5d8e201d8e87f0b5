// The namespace picture's details dialog (templates/sandbox/_picture.html): one object's YAML and
// its newest events, fetched from the picture's object URL when it is opened. Every field is
// data from the learner's namespace: textContent only.
(() => {
  "use strict";
  const Layout = window.kubelabPictureLayout;

  // Details: the object's YAML and events in a modal dialog; Esc closes, focus goes back.
  function setup(inst) {
    const dialog = inst.dialog;
    if (!dialog) return;
    dialog.addEventListener("close", () => {
      if (inst.opener && inst.opener.isConnected) inst.opener.focus();
      inst.opener = null;
    });
    dialog.querySelector("[data-picture-close]").addEventListener("click", () => dialog.close());
  }

  async function open(inst, id, opener) {
    const dialog = inst.dialog;
    const url = inst.root.dataset.objectUrl;
    if (!dialog || !url || id.startsWith("dangling:")) return;
    const slash = id.indexOf("/");
    const kind = id.slice(0, slash);
    const name = id.slice(slash + 1);
    const part = (name_) => dialog.querySelector(`[data-picture-dialog-${name_}]`);
    part("title").textContent = `${kind} ${name}`;
    part("status").textContent = inst.strings.loading || "";
    part("events").replaceChildren();
    part("yaml").textContent = "";
    part("body").hidden = true;
    inst.opener = opener || null;
    if (!dialog.open) dialog.showModal();
    const token = (inst.detailsToken = {});
    let answer;
    try {
      const response = await fetch(`${url}?${new URLSearchParams({ kind, name })}`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (token !== inst.detailsToken) return;
      if (response.status === 404) { part("status").textContent = inst.strings.gone || ""; return; }
      if (!response.ok) throw new Error(String(response.status));
      answer = await response.json();
    } catch (error) {
      if (token === inst.detailsToken) part("status").textContent = inst.strings.detailsFailed || "";
      return;
    }
    if (token !== inst.detailsToken) return;
    part("status").textContent = "";
    part("yaml").textContent = answer.yaml || "";
    const events = answer.events || [];
    part("events").replaceChildren(...events.map((event) => {
      const li = document.createElement("li");
      li.className = "picture-dialog__event";
      li.dataset.type = event.type || "";
      const head = document.createElement("strong");
      head.textContent = `${event.type || ""} ${event.reason || ""}`.trim();
      const when = event.last_seen ? new Date(event.last_seen) : null;
      const meta = document.createElement("span");
      meta.className = "picture-dialog__meta";
      meta.textContent = Layout.format(inst.strings.eventMeta, {
        count: event.count || 1,
        when: when && !isNaN(when) ? when.toLocaleString(document.documentElement.lang || undefined) : "",
      });
      const message = document.createElement("span");
      message.textContent = event.message || "";
      li.append(head, " ", meta, document.createElement("br"), message);
      return li;
    }));
    part("no-events").hidden = events.length > 0;
    part("body").hidden = false;
  }

  window.kubelabPictureDetails = { setup, open };
})();
