// The studio's "Import a Killercoda scenario's folder": a plain form would send each file's name
// without its folder, so the files are sent with their paths inside the chosen folder.
(() => {
  "use strict";
  const form = document.querySelector("[data-scenario-folder]");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.querySelector("input[type=file]");
    const body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    body.append("slug", form.querySelector("[name=slug]").value);
    for (const file of input.files) {
      body.append("files", file, file.name);
      body.append("paths", file.webkitRelativePath || file.name);
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      const answer = await response.json();
      window.location.assign(answer.next);  // the editor, or the studio with the reason
    } catch (error) {
      button.disabled = false;
      form.querySelector("[data-scenario-folder-error]").textContent = form.dataset.error;
    }
  });
})();
