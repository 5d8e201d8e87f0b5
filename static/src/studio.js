// The studio's editor page: CodeMirror 6 for lab.yaml and its files, a Markdown editor for each
// exercise's instructions (written back into lab.yaml by the server), problems marked at their
// line and column as the author types, a live preview in both languages, and "Test this lab"
// with its progress over the page's ws/events/ socket. Bundled by scripts/setup (esbuild) into
// static/vendor/studio.js; the server decides everything, this page only shows and sends.
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, indentUnit } from "@codemirror/language";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { yaml } from "@codemirror/lang-yaml";
import { markdown } from "@codemirror/lang-markdown";

const SAVE_AFTER_MS = 600;
const page = document.querySelector(".studio-page") || document.body;
const initial = JSON.parse(document.getElementById("studio-state").textContent);
const draftUrl = `${location.pathname.replace(/\/$/, "")}/draft/`;

// Every text of the lab under its editor name: "lab.yaml", "files/<name>".
const texts = { "lab.yaml": initial.spec };
Object.entries(initial.files || {}).forEach(([name, text]) => { texts[`files/${name}`] = text; });
const editorStates = {};
let current = "lab.yaml";
let digest = initial.digest;
let marks = [];
let exercises = [];
let previewLanguage = document.documentElement.lang && document.documentElement.lang.startsWith("zh") ? "zh-hant" : "en";
let previewHtml = null;

const $ = (selector) => page.querySelector(selector);
const statusEl = $("[data-studio-status]");

function say(el, key, values) {
  let text = el.dataset[key] || "";
  Object.entries(values || {}).forEach(([k, v]) => { text = text.replace(`%(${k})s`, v); });
  el.textContent = text;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? "" : JSON.stringify(body),
  });
  let answer = {};
  try { answer = await response.json(); } catch (error) { answer = {}; }
  return { status: response.status, answer };
}

// ------------------------------------------------------------------------------------------
// The code editor

function languageOf(name) {
  return name === "lab.yaml" || /\.ya?ml$/.test(name) ? [yaml()] : name.endsWith(".md") ? [markdown()] : [];
}

function stateFor(name) {
  return EditorState.create({
    doc: texts[name],
    extensions: [
      lineNumbers(), history(), drawSelection(), highlightActiveLine(), highlightSelectionMatches(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }), indentUnit.of("  "),
      keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
      lintGutter(), ...languageOf(name), EditorState.tabSize.of(2),
      EditorView.contentAttributes.of({ "aria-label": name, tabindex: "0" }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) {
          texts[current] = update.state.doc.toString();
          scheduleSave();
        }
      }),
    ],
  });
}

const codeView = new EditorView({ state: stateFor("lab.yaml"), parent: $("[data-studio-code]") });
editorStates["lab.yaml"] = codeView.state;

function diagnosticsFor(name, view) {
  const doc = view.state.doc;
  return marks.filter((m) => m.target === name).map((m) => {
    const line = doc.line(Math.min(Math.max(1, m.line), doc.lines));
    const from = Math.min(line.from + Math.max(0, m.column - 1), line.to);
    const to = Math.max(from, Math.min(line.from + Math.max(0, m.end_column - 1), line.to));
    return { from, to: to === from && to < line.to ? to + 1 : to, severity: "error", message: m.sentence };
  });
}

function showDiagnostics() {
  codeView.dispatch(setDiagnostics(codeView.state, diagnosticsFor(current, codeView)));
}

function renderTabs() {
  const tabs = $("[data-studio-tabs]");
  tabs.replaceChildren();
  Object.keys(texts).forEach((name) => {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.className = "studio-tab";
    tab.textContent = name;
    tab.dataset.studioTab = name;
    tab.setAttribute("aria-selected", String(name === current));
    const problems = marks.filter((m) => m.target === name).length;
    if (problems) tab.dataset.problems = String(problems);
    tab.addEventListener("click", () => openTab(name));
    tabs.appendChild(tab);
  });
  $("[data-studio-removefile]").hidden = current === "lab.yaml";
}

function openTab(name, line) {
  editorStates[current] = codeView.state;
  current = name;
  codeView.setState(editorStates[name] || stateFor(name));
  editorStates[name] = codeView.state;
  renderTabs();
  showDiagnostics();
  if (line) {
    const target = codeView.state.doc.line(Math.min(line, codeView.state.doc.lines));
    codeView.dispatch({ selection: { anchor: target.from }, scrollIntoView: true });
  }
  codeView.focus();
}

function replaceText(name, text) {
  texts[name] = text;
  if (name === current) {
    const head = Math.min(codeView.state.selection.main.head, text.length);
    codeView.dispatch({ changes: { from: 0, to: codeView.state.doc.length, insert: text }, selection: { anchor: head } });
    editorStates[name] = codeView.state;
  } else {
    delete editorStates[name];
  }
}

$("[data-studio-addfile]").addEventListener("click", () => {
  const input = $("[data-studio-newfile]");
  const name = input.value.trim();
  if (!name || texts[`files/${name}`] !== undefined) return;
  texts[`files/${name}`] = "";
  input.value = "";
  openTab(`files/${name}`);
  scheduleSave();
});
$("[data-studio-removefile]").addEventListener("click", (event) => {
  if (current === "lab.yaml" || !window.confirm(event.target.dataset.confirm)) return;
  delete texts[current];
  delete editorStates[current];
  current = "lab.yaml";
  codeView.setState(editorStates["lab.yaml"] || stateFor("lab.yaml"));
  renderTabs();
  scheduleSave();
});

// ------------------------------------------------------------------------------------------
// The instructions editor (Markdown), written into lab.yaml by the server

let markdownEditing = false;
const markdownView = new EditorView({
  state: EditorState.create({
    doc: "",
    extensions: [
      history(), drawSelection(), markdown(), EditorView.lineWrapping,
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      keymap.of([...defaultKeymap, ...historyKeymap]),
      EditorView.contentAttributes.of({ "aria-label": "Markdown", tabindex: "0" }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged && !markdownEditing) scheduleSave(true);
      }),
    ],
  }),
  parent: $("[data-studio-markdown]"),
});
const exerciseSelect = $("[data-studio-exercise]");
const languageSelect = $("[data-studio-language]");

function loadInstructions() {
  const exercise = exercises[Number(exerciseSelect.value)];
  const text = exercise ? exercise.instructions[languageSelect.value] || "" : "";
  if (markdownView.state.doc.toString() === text) return;
  markdownEditing = true;
  markdownView.dispatch({ changes: { from: 0, to: markdownView.state.doc.length, insert: text } });
  markdownEditing = false;
}

function renderExercises(list) {
  const chosen = exerciseSelect.value;
  exercises = list;
  exerciseSelect.replaceChildren(...list.map((e, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = `${e.id}: ${e.title}`;
    return option;
  }));
  if (chosen && Number(chosen) < list.length) exerciseSelect.value = chosen;
  if (!markdownView.hasFocus) loadInstructions();
}
exerciseSelect.addEventListener("change", loadInstructions);
languageSelect.addEventListener("change", loadInstructions);

// ------------------------------------------------------------------------------------------
// Saving and checking, one request at a time

let timer = null;
let inFlight = false;
let again = false;
let instructionsPending = false;

function scheduleSave(instructions) {
  if (instructions) instructionsPending = true;
  say(statusEl, "saving");
  clearTimeout(timer);
  timer = setTimeout(save, SAVE_AFTER_MS);
}

function payload() {
  const files = {};
  Object.entries(texts).forEach(([name, text]) => {
    if (name.startsWith("files/")) files[name.slice(6)] = text;
  });
  const body = { spec: texts["lab.yaml"], files, base: digest };
  if (instructionsPending && exercises.length) {
    body.instructions = {
      exercise: Number(exerciseSelect.value), language: languageSelect.value,
      text: markdownView.state.doc.toString(),
    };
  }
  return body;
}

async function save() {
  if (inFlight) { again = true; return; }
  inFlight = true;
  const body = payload();
  instructionsPending = false;
  let result;
  try {
    result = await post(draftUrl, body);
  } catch (error) {
    result = { status: 0, answer: { error: String(error) } };
  }
  inFlight = false;
  const { status, answer } = result;
  if (status === 200) {
    if (answer.spec !== texts["lab.yaml"] && body.instructions) replaceText("lab.yaml", answer.spec);
    applyState(answer);
  } else if (status === 409) {
    say(statusEl, "conflict");
    statusEl.dataset.state = "error";
  } else {
    say(statusEl, "error", { why: answer.error || String(status) });
    statusEl.dataset.state = "error";
  }
  if (again) { again = false; save(); }
}

function applyState(answer) {
  digest = answer.digest;
  marks = answer.marks || [];
  if (!answer.kept) {
    say(statusEl, "tooBig");
    statusEl.dataset.state = "error";
  } else if (marks.length) {
    say(statusEl, "problems", { n: marks.length });
    statusEl.dataset.state = "problems";
  } else {
    say(statusEl, "valid");
    statusEl.dataset.state = "valid";
  }
  renderTabs();
  showDiagnostics();
  renderProblems();
  if (answer.preview) {
    previewHtml = answer.preview.html;
    renderExercises(answer.preview.exercises);
    $("[data-studio-preview]").dataset.stale = "false";
  } else {
    $("[data-studio-preview]").dataset.stale = "true";
  }
  renderPreview();
  renderTest(answer.test, answer.publishable);
}

function appendWithCode(parent, text) {
  String(text).split("`").forEach((part, index) => {
    if (!part) return;
    if (index % 2) {
      const code = document.createElement("code");
      code.textContent = part;
      parent.appendChild(code);
    } else {
      parent.append(part);
    }
  });
}

function renderProblems() {
  const list = $("[data-studio-problems]");
  list.replaceChildren();
  if (!marks.length) {
    const none = document.createElement("li");
    none.className = "muted";
    none.textContent = list.dataset.none;
    list.appendChild(none);
    return;
  }
  marks.forEach((mark) => {
    const item = document.createElement("li");
    const link = document.createElement("button");
    link.type = "button";
    link.className = "studio-problem";
    link.dataset.line = String(mark.line);
    // Where and which field as code; the words in the page's language, `quoted` parts as code.
    const where = document.createElement("code");
    where.textContent = `${mark.target}:${mark.line}${mark.field ? ` ${mark.field}` : ""}`;
    link.append(where, " ");
    appendWithCode(link, mark.message);
    if (mark.fix) {
      link.append(` ${strings.fix || "Fix:"} `);
      appendWithCode(link, mark.fix);
    }
    link.addEventListener("click", () => openTab(mark.target in texts ? mark.target : "lab.yaml", mark.line));
    item.appendChild(link);
    list.appendChild(item);
  });
}

// ------------------------------------------------------------------------------------------
// The preview, in either language

function renderPreview() {
  const box = $("[data-studio-preview]");
  if (previewHtml) box.innerHTML = previewHtml[previewLanguage]; // rendered and escaped by the server
  page.querySelectorAll("[data-studio-preview-lang]").forEach((button) => {
    const on = button.dataset.studioPreviewLang === previewLanguage;
    button.setAttribute("aria-pressed", String(on));
    button.classList.toggle("button-secondary", !on);
  });
}
page.querySelectorAll("[data-studio-preview-lang]").forEach((button) => {
  button.addEventListener("click", () => { previewLanguage = button.dataset.studioPreviewLang; renderPreview(); });
});

// ------------------------------------------------------------------------------------------
// Test this lab

const testButton = $("[data-studio-test]");
const progress = $("[data-studio-progress]");
const testStatus = $("[data-studio-test-status]");
const report = $("[data-studio-report]");
const publishButton = $("[data-studio-publish]");
let testId = initial.test ? initial.test.id : null;

function renderTest(test, publishable) {
  if (publishable !== undefined) publishButton.disabled = !publishable;
  if (!test) { say(testStatus, "none"); progress.hidden = true; return; }
  testId = test.id;
  page.dataset.testStatus = test.status;
  progress.hidden = !test.total;
  progress.max = Math.max(1, test.total);
  progress.value = test.done;
  const key = { queued: "queued", running: "running", passed: "passed", failed: "failed",
    inconclusive: "inconclusive", "gave-up": "gaveUp" }[test.status] || "none";
  const stale = test.current === false && ["passed", "failed", "gave-up"].includes(test.status);
  if (stale) say(testStatus, "stale");
  else say(testStatus, key, { done: test.done, total: test.total });
  testStatus.dataset.state = stale ? "stale" : test.status;
  if (test.report) renderReport(test.report);
}

// The content test names its steps in English; the page says them in its own language. What a
// step found (the checks' diagnostics, a command's output) stays as it was: it is marked lang=en.
const strings = (document.getElementById("studio-strings") || { dataset: {} }).dataset;
const STEPS = {
  setup: "setup", "fails first": "failsFirst", "solution runs": "solutionRuns",
  "solution passes": "solutionPasses", "solution stays passing": "solutionStaysPassing", error: "error",
};

function stepName(name) {
  if (name.startsWith("near miss ")) return `${strings.nearMiss || "near miss"} ${name.slice(10)}`;
  return strings[STEPS[name]] || name;
}

function renderReport(entries) {
  report.replaceChildren(...entries.map((entry) => {
    const item = document.createElement("li");
    item.className = "studio-report__entry";
    item.dataset.ok = String(entry.ok);
    const head = document.createElement("strong");
    const run = (strings.run || "run %(n)s").replace("%(n)s", entry.repeat + 1);
    head.textContent = `${entry.ok ? "✓" : "✗"} ${entry.exercise} (${run})`;
    item.appendChild(head);
    const steps = document.createElement("ul");
    (entry.steps || []).forEach((step) => {
      const line = document.createElement("li");
      line.dataset.ok = String(step.ok);
      line.append(`${step.ok ? "✓" : "✗"} ${stepName(step.name)}`);
      if (step.detail) {
        const detail = document.createElement("span");
        detail.lang = "en";
        detail.textContent = `: ${step.detail}`;
        line.appendChild(detail);
      }
      steps.appendChild(line);
    });
    if (entry.problems) {
      const line = document.createElement("li");
      line.textContent = entry.problems;
      steps.appendChild(line);
    }
    item.appendChild(steps);
    return item;
  }));
}

async function refreshTest() {
  if (!testId) return;
  const url = testButton.dataset.reportUrl.replace(/\/0\/$/, `/${testId}/`);
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const answer = await response.json();
  renderTest(answer.test, answer.publishable);
}

testButton.addEventListener("click", async () => {
  clearTimeout(timer);
  await save();
  const { status, answer } = await post(testButton.dataset.url);
  if (status === 202) renderTest(answer.test);
  else { say(testStatus, "none"); testStatus.textContent = answer.error || testStatus.textContent; }
});

if (window.kubelabLiveSocket) {
  window.kubelabLiveSocket("/ws/events/", {
    onOpen: () => refreshTest(),
    onEvent: (event) => {
      if (event.type === "studio.test" && event.lab === initial.slug) {
        testId = event.test;
        if (["passed", "failed", "gave-up", "inconclusive"].includes(event.status)) refreshTest();
        else renderTest({ ...event, current: event.digest === digest, report: null });
        if (event.entry) {
          const entries = Array.from(report.children).length;
          if (entries < event.done) refreshTest();
        }
      }
    },
  });
}

// Start: the stored draft's state as the server sees it (marks, preview, test).
renderTabs();
renderTest(initial.test, initial.publishable);
save();
