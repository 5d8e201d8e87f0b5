// Lesson page: Copy and "Run in terminal" buttons on code blocks, and the resizable split.
(() => {
  "use strict";

  // Code block buttons. "Run in terminal" only types the command into the learner's own
  // terminal (window.kubelabTerminal from the sandbox app); nothing runs on the server.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const block = button.closest(".codeblock");
    const code = block ? block.querySelector("code").textContent : "";
    if (button.dataset.action === "copy") {
      try {
        await navigator.clipboard.writeText(code);
        flash(button, "✓");
      } catch (_) {
        flash(button, "✗");
      }
    } else if (button.dataset.action === "run-in-terminal") {
      const terminal = window.kubelabTerminal;
      if (terminal && typeof terminal.type === "function") {
        terminal.type(button.dataset.command + "\n");
        if (typeof terminal.focus === "function") terminal.focus();
      } else {
        flash(button, "…");
      }
    }
  });

  function flash(button, mark) {
    const original = button.textContent;
    button.textContent = mark + " " + original;
    button.disabled = true;
    setTimeout(() => { button.textContent = original; button.disabled = false; }, 1200);
  }

  // The split between lesson and workbench: drag with a pointer or use the arrow keys.
  const layout = document.querySelector("[data-split-layout]");
  const handle = document.querySelector("[data-split-handle]");
  if (!layout || !handle) return;
  const key = "kubelab.split";
  const clamp = (v) => Math.min(75, Math.max(25, v));
  function apply(percent) {
    const value = clamp(percent);
    layout.style.setProperty("--lesson-width", value + "%");
    handle.setAttribute("aria-valuenow", String(Math.round(value)));
    window.dispatchEvent(new Event("resize"));  // lets the terminal refit
    return value;
  }
  let current = apply(parseFloat(localStorage.getItem(key)) || 50);
  handle.addEventListener("pointerdown", (event) => {
    handle.setPointerCapture(event.pointerId);
    layout.classList.add("is-resizing");
  });
  handle.addEventListener("pointermove", (event) => {
    if (!handle.hasPointerCapture(event.pointerId)) return;
    const box = layout.getBoundingClientRect();
    current = apply(((event.clientX - box.left) / box.width) * 100);
  });
  handle.addEventListener("pointerup", (event) => {
    handle.releasePointerCapture(event.pointerId);
    layout.classList.remove("is-resizing");
    localStorage.setItem(key, String(current));
  });
  handle.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 10 : 2;
    if (event.key === "ArrowLeft") current = apply(current - step);
    else if (event.key === "ArrowRight") current = apply(current + step);
    else return;
    event.preventDefault();
    localStorage.setItem(key, String(current));
  });
})();
