// The live gradebook: cells, totals and grading progress follow the class's ws/classes/<id>/
// socket. Events: {type: "classes.cell", student, exercise, status, completed_at, hints_revealed}
// and {type: "classes.grading", checking: [student ids], progress: {done, requested, finished_at}}
// and {type: "classes.environment", student, status} when a student's environment changes.
// After a reconnect the whole grid is re-read from the JSON export, so nothing sent meanwhile is lost.
(() => {
  "use strict";
  const root = document.querySelector("[data-classes-live-root]");
  if (!root) return;
  const strings = (document.getElementById("classes-strings") || { dataset: {} }).dataset;
  const table = document.querySelector("[data-gradebook]");
  const total = table ? table.querySelectorAll("thead .gb-exercise").length : 0;

  function cellFor(student, exercise) {
    return document.querySelector(
      `[data-cell][data-student="${CSS.escape(String(student))}"][data-exercise="${CSS.escape(exercise)}"]`
    );
  }

  function shortTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function setCell(student, exercise, state) {
    const cell = cellFor(student, exercise);
    if (!cell) return;
    cell.dataset.status = state.status;
    cell.dataset.completed = state.completed_at ? "true" : "false";
    cell.dataset.hints = String(state.hints_revealed || 0);
    const label = cell.querySelector("[data-cell-label]");
    if (label) label.textContent = strings[state.status] || state.status;
    const when = cell.querySelector("[data-cell-when]");
    if (when) when.textContent = shortTime(state.completed_at);
    const hints = cell.querySelector("[data-cell-hints]");
    if (hints) hints.textContent = state.hints_revealed ? `💡${state.hints_revealed}` : "";
  }

  // Totals and pass rates are recounted from the cells, so they can never disagree with them.
  function recount() {
    if (!table) return;
    const rows = table.querySelectorAll("[data-student-row]");
    rows.forEach((row) => {
      const done = row.querySelectorAll('[data-cell][data-completed="true"]').length;
      const cell = row.querySelector("[data-total]");
      if (cell) cell.textContent = `${done}/${total}`;
    });
    table.querySelectorAll("[data-rate]").forEach((rate) => {
      const key = CSS.escape(rate.dataset.exercise);
      const done = table.querySelectorAll(`[data-cell][data-exercise="${key}"][data-completed="true"]`).length;
      rate.textContent = rows.length ? `${Math.round((100 * done) / rows.length)}%` : "–";
    });
  }

  function showProgress(progress) {
    const el = document.querySelector("[data-classes-progress]");
    const button = document.querySelector("[data-grade-button]");
    if (!el || !progress) return;
    const running = !progress.finished_at;
    el.dataset.run = progress.run;
    el.dataset.done = progress.done;
    el.dataset.requested = progress.requested;
    el.dataset.running = running ? "true" : "false";
    const template = running ? strings.grading : strings.finished;
    el.textContent = (template || "")
      .replace("%(done)s", String(progress.done))
      .replace("%(requested)s", String(progress.requested))
      .replace("%(when)s", progress.finished_at ? new Date(progress.finished_at).toLocaleString() : "");
    if (button) button.disabled = running;
  }

  function setEnvironment(student, status) {
    const row = document.querySelector(`[data-student-row="${CSS.escape(String(student))}"]`);
    const cell = row && row.querySelector("[data-environment]");
    if (!cell) return;
    cell.dataset.environment = status;
    const key = "env" + status.charAt(0).toUpperCase() + status.slice(1);
    cell.textContent = strings[key] || status;
  }

  function onEvent(event) {
    if (event.type === "classes.environment") {
      setEnvironment(event.student, String(event.status));
    } else if (event.type === "classes.cell") {
      setCell(event.student, event.exercise, event);
      recount();
    } else if (event.type === "classes.grading") {
      (event.checking || []).forEach((student) => {
        document.querySelectorAll(`[data-cell][data-student="${CSS.escape(String(student))}"]`).forEach((cell) => {
          if (cell.dataset.completed !== "true") setCell(student, cell.dataset.exercise, { status: "checking", hints_revealed: Number(cell.dataset.hints) });
        });
      });
      showProgress(event.progress);
    }
  }

  async function resync() {
    try {
      const response = await fetch(root.dataset.jsonUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const book = await response.json();
      book.students.forEach((student) => {
        Object.entries(student.exercises).forEach(([key, state]) => setCell(student.id, key, state));
      });
      recount();
      if (book.grading) showProgress(book.grading);
    } catch (error) {
      /* the next event or reconnect tries again */
    }
  }

  function connect() {
    window.kubelabLiveSocket(root.dataset.socketPath, {
      liveSelector: "[data-classes-live]",
      finalCodes: [4401, 4404], // logged out, or not your class
      onOpen: (reconnected) => { if (reconnected) resync(); },
      onEvent,
    });
  }

  connect();
  window.kubelabClasses = { resync };
})();
