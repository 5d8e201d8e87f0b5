// The live gradebook: cells, totals and grading progress follow the class's ws/classes/<id>/
// socket. Events: {type: "classes.cell", student, exercise, status, completed_at, hints_revealed}
// and {type: "classes.grading", checking: [student ids], progress: {done, requested, finished_at}}
// and {type: "classes.environment", student, status} when a student's environment changes;
// a class grading sends its results as {type: "classes.cells", cells: [...]}, a chunk at a time.
// A student's "Ask for help" flags their cell: {type: "classes.help", student, exercise, open,
// asked_at}; the flagged cell offers "Mark as helped" (a form, posted here by fetch).
// On every (re)connect and at a grading run's end the whole grid is re-read from the JSON export,
// so nothing sent while the page loaded or was away is lost.
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
    if ("best_points" in state) cell.dataset.best = String(state.best_points || 0);
    if ("points_by_deadline" in state) cell.dataset.onTime = String(state.points_by_deadline || 0);
    if ("passed_at_deadline" in state) {
      if (state.passed_at_deadline) cell.dataset.deadlinePassed = "true";
      else delete cell.dataset.deadlinePassed;
    }
    const partial = cell.querySelector("[data-cell-partial]");
    if (partial) {
      const earned = cellEarned(cell);
      partial.textContent = !state.completed_at && earned ? `${earned}/${cell.dataset.points}` : "";
    }
    const label = cell.querySelector("[data-cell-label]");
    if (label) label.textContent = strings[state.status] || state.status;
    const when = cell.querySelector("[data-cell-when]");
    if (when) when.textContent = shortTime(state.completed_at);
    const hints = cell.querySelector("[data-cell-hints]");
    if (hints) hints.textContent = state.hints_revealed ? `💡${state.hints_revealed}` : "";
    // Late: completed after this student's deadline for the lab (the server wrote it in data-due),
    // unless the grading taken at the deadline already passed.
    const late = Boolean(state.completed_at && cell.dataset.due &&
      new Date(state.completed_at) > new Date(cell.dataset.due) &&
      cell.dataset.deadlinePassed !== "true");
    cell.dataset.late = late ? "true" : "false";
    const lateMark = cell.querySelector("[data-cell-late]");
    if (lateMark) lateMark.textContent = late ? strings.late || "late" : "";
    cell.title = cellTitle(cell, state);
  }

  // The tooltip says what the cell shows, as the server wrote it: who, which, status, when, hints.
  function cellTitle(cell, state) {
    let title = `${cell.dataset.cellWho}: ${strings[state.status] || state.status}`;
    if (state.completed_at) title += ` (${strings.completed} ${longTime(state.completed_at).slice(0, 16)})`;
    const hints = Number(state.hints_revealed || 0);
    if (hints) {
      const words = hints === 1 ? strings.hintOne : strings.hintMany.replace(/\d+/, String(hints));
      title += ` · ${words}`;
    }
    return title;
  }

  // What a cell earns, and by its deadline: as classes.gradebook counts them (Cell.worth,
  // Deadlines.on_time); what the grading at the deadline found is the server's data-on-time.
  function cellEarned(cell) {
    const points = Number(cell.dataset.points || 1);
    return cell.dataset.completed === "true" ? points : Math.min(Number(cell.dataset.best || 0), points);
  }
  function cellOnTime(cell) {
    const due = cell.dataset.due;
    if (!due || new Date(due) > new Date()) return cellEarned(cell);
    if (cell.dataset.completed === "true" && cell.dataset.late !== "true") return Number(cell.dataset.points || 1);
    return Number(cell.dataset.onTime || 0);
  }

  // Totals and pass rates are recounted from the cells, so they can never disagree with them.
  function recount() {
    if (!table) return;
    const rows = table.querySelectorAll("[data-student-row]");
    const possible = Array.from(rows[0] ? rows[0].querySelectorAll("[data-cell]") : [])
      .reduce((sum, cell) => sum + Number(cell.dataset.points || 1), 0);
    rows.forEach((row) => {
      const done = row.querySelectorAll('[data-cell][data-completed="true"]');
      const cell = row.querySelector("[data-total]");
      if (cell) cell.textContent = `${done.length}/${total}`;
      // Points: what the exercises earned (partial credit too), and the class's points' share.
      const cells = Array.from(row.querySelectorAll("[data-cell]"));
      const earned = cells.reduce((sum, c) => sum + cellEarned(c), 0);
      const points = row.querySelector("[data-points-total]");
      if (points) {
        const onTime = cells.reduce((sum, c) => sum + cellOnTime(c), 0);
        const note = points.querySelector("[data-points-on-time]");
        points.textContent = `${earned} (${possible ? Math.round((100 * earned) / possible) + "%" : "-"})`;
        if (note) {
          note.textContent = " · " + (strings.onTime || "%(n)s by the deadline").replace("%(n)s", String(onTime));
          points.appendChild(note);
        }
      }
    });
    table.querySelectorAll("[data-rate]").forEach((rate) => {
      const key = CSS.escape(rate.dataset.exercise);
      const done = table.querySelectorAll(`[data-cell][data-exercise="${key}"][data-completed="true"]`).length;
      rate.textContent = rows.length ? `${Math.round((100 * done) / rows.length)}%` : "–";
    });
  }

  // Times as the server writes them (YYYY-MM-DD HH:MM:SS, local), not in the browser's format.
  function longTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  let lastRun = null;
  let lastRunning = false;
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
    let text = (template || "")
      .replace("%(done)s", String(progress.done))
      .replace("%(requested)s", String(progress.requested))
      .replace("%(when)s", longTime(progress.finished_at));
    const skipped = (progress.skipped || []).length;
    if (skipped) {
      const note = skipped === 1 ? strings.skippedOne : strings.skippedMany;
      text += " " + (note || "").replace("%(counter)s", String(skipped));
    }
    el.textContent = text;
    const bar = document.querySelector("[data-classes-bar]");
    if (bar) {
      bar.hidden = !running;
      bar.max = Math.max(1, progress.requested);
      bar.value = progress.done;
    }
    if (button) button.disabled = running;
    // The run's end: read the whole grid once more, so no cell is left on a lost event.
    const ended = lastRun === progress.run && lastRunning && !running;
    lastRun = progress.run;
    lastRunning = running;
    if (ended) resync();
  }

  function setEnvironment(student, status) {
    const row = document.querySelector(`[data-student-row="${CSS.escape(String(student))}"]`);
    const cell = row && row.querySelector("[data-environment]");
    if (!cell) return;
    cell.dataset.environment = status;
    const key = "env" + status.charAt(0).toUpperCase() + status.slice(1);
    cell.textContent = strings[key] || status;
  }

  // The help flag: the icon and words in the cell's link, and a "Mark as helped" form beside it
  // (built here for a flag that arrives live; the server renders the ones open at load).
  function setHelp(student, exercise, open, askedAt) {
    const cell = cellFor(student, exercise);
    if (!cell) return;
    if (open) cell.dataset.help = "true";
    else delete cell.dataset.help;
    const flag = cell.querySelector("[data-cell-help]");
    if (flag) flag.hidden = !open;
    const when = cell.querySelector("[data-cell-help-when]");
    if (when && open) when.textContent = askedAt ? shortTime(askedAt).slice(6) : when.textContent;
    let form = cell.querySelector("[data-help-form]");
    if (!open) {
      if (form) form.remove();
      return;
    }
    if (form || !root.dataset.helpedUrl) return;
    const [lab, id] = exercise.split("/");
    form = document.createElement("form");
    form.className = "gb-helped";
    form.method = "post";
    form.action = root.dataset.helpedUrl;
    form.dataset.helpForm = "";
    Object.entries({ csrfmiddlewaretoken: window.kubelabCsrfToken(), student: String(student), lab, exercise: id })
      .forEach(([name, value]) => {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.appendChild(input);
      });
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "gb-helped__button";
    button.textContent = strings.helpMark || "Mark as helped";
    button.setAttribute("aria-label", (strings.helpMarkLabel || "%(who)s").replace("%(who)s", cell.dataset.cellWho));
    form.appendChild(button);
    cell.appendChild(form);
  }

  // Every flag as the server has it now (after a reconnect, a flag sent while away is not lost).
  function showHelp(open) {
    const flagged = new Set();
    open.forEach((request) => {
      flagged.add(`${request.student} ${request.exercise}`);
      setHelp(request.student, request.exercise, true, request.asked_at);
    });
    document.querySelectorAll('[data-cell][data-help="true"]').forEach((cell) => {
      if (!flagged.has(`${cell.dataset.student} ${cell.dataset.exercise}`)) {
        setHelp(cell.dataset.student, cell.dataset.exercise, false);
      }
    });
  }

  function onEvent(event) {
    if (event.type === "classes.help") {
      setHelp(event.student, event.exercise, Boolean(event.open), event.asked_at);
    } else if (event.type === "classes.environment") {
      setEnvironment(event.student, String(event.status));
    } else if (event.type === "classes.cell") {
      setCell(event.student, event.exercise, event);
      recount();
    } else if (event.type === "classes.cells") {
      // A class grading's chunk: many cells in one message, counted once.
      (event.cells || []).forEach((cell) => setCell(cell.student, cell.exercise, cell));
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

  // The page's state comes from the server on every (re)connect and at a run's end. Events that
  // arrive while the snapshot is read are applied after it, in order, so none is lost and an
  // older snapshot never overwrites a newer event.
  let queued = null;
  async function resync() {
    if (queued) return;
    queued = [];
    try {
      const response = await fetch(root.dataset.jsonUrl, { credentials: "same-origin" });
      if (response.ok) {
        const book = await response.json();
        book.students.forEach((student) => {
          Object.entries(student.exercises).forEach(([key, state]) => setCell(student.id, key, state));
          setEnvironment(student.id, String(student.environment));
        });
        recount();
        if (book.grading) showProgress(book.grading);
      }
      if (root.dataset.helpUrl) {
        const help = await fetch(root.dataset.helpUrl, { credentials: "same-origin" });
        if (help.ok) showHelp((await help.json()).open || []);
      }
    } catch (error) {
      /* the next event or reconnect tries again */
    } finally {
      const pending = queued;
      queued = null;
      pending.forEach(onEvent);
    }
  }

  function received(event) {
    if (queued) queued.push(event);
    else onEvent(event);
  }


  // "Grade the class now" stays on the page: the run's progress arrives on the socket.
  const form = document.querySelector("[data-grade-form]");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("[data-grade-button]");
      const note = document.querySelector("[data-grade-note]");
      if (button) button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRFToken": window.kubelabCsrfToken(), Accept: "application/json" },
        });
        const answer = await response.json();
        if (note) note.textContent = answer.message || "";
        if (answer.progress) showProgress(answer.progress);
        if (!answer.progress || answer.progress.finished_at) resync();
      } catch (error) {
        if (note) note.textContent = strings.gradeError || "";
        if (button) button.disabled = false;
      }
    });
  }

  // "Mark as helped" stays on the page; the flag goes when the answer (or the event) comes.
  document.addEventListener("submit", async (event) => {
    const helpForm = event.target.closest("[data-help-form]");
    if (!helpForm) return;
    event.preventDefault();
    const button = helpForm.querySelector("button");
    if (button) button.disabled = true;
    const cell = helpForm.closest("[data-cell]");
    try {
      const response = await fetch(helpForm.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": window.kubelabCsrfToken(), Accept: "application/json" },
        body: new FormData(helpForm),
      });
      if (!response.ok) throw new Error(String(response.status));
      if (cell) setHelp(cell.dataset.student, cell.dataset.exercise, false);
    } catch (error) {
      const note = document.querySelector("[data-grade-note]");
      if (note) note.textContent = strings.helpError || "";
      if (button) button.disabled = false;
    }
  });

  function connect() {
    window.kubelabLiveSocket(root.dataset.socketPath, {
      liveSelector: "[data-classes-live]",
      finalCodes: [4401, 4404], // logged out, or not your class
      onOpen: () => resync(),
      onEvent: received,
    });
  }

  connect();
  window.kubelabClasses = { resync };
})();
