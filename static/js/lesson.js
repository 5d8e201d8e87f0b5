// Lesson page: Copy and "Run in terminal" buttons on code blocks, the resizable split, on
// narrow screens the two tabs "Lesson | Exercises & terminal" (one pane at a time), and in the
// workbench the tabs "Exercises | Namespace picture" above the terminal.
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
        showPane("workbench");  // on a phone the terminal is the other tab
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

  // Narrow screens: the tab list (WAI-ARIA tabs, automatic activation) picks the pane shown.
  // The CSS hides the other pane only while [data-view] is set, so without this script both
  // panes stack. Above the breakpoint the tabs are not shown and the panes are plain landmarks.
  const narrow = window.matchMedia("(max-width: 799.98px)");
  const tabList = document.querySelector("[data-lesson-tabs]");
  const tabs = tabList ? [...tabList.querySelectorAll("[data-lesson-tab]")] : [];
  const panes = new Map([...document.querySelectorAll("[data-lesson-pane]")].map((p) => [p.dataset.lessonPane, p]));
  const scrollTops = new Map();  // a pane hidden with display:none forgets where it was scrolled
  function showPane(name) {
    const layout = document.querySelector("[data-split-layout]");
    if (!layout || !tabs.length || layout.dataset.view === name) return;
    const leaving = panes.get(layout.dataset.view);
    if (leaving) scrollTops.set(layout.dataset.view, leaving.scrollTop);
    layout.dataset.view = name;
    tabs.forEach((tab) => {
      const selected = tab.dataset.lessonTab === name;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    });
    const shown = panes.get(name);
    if (shown && scrollTops.has(name)) shown.scrollTop = scrollTops.get(name);
    if (window.kubelabScrollFocus) window.kubelabScrollFocus();  // wide code blocks, now measurable
    window.dispatchEvent(new Event("resize"));  // the terminal fits itself to its new room
  }
  function syncNarrow() {
    if (!tabList) return;
    tabList.hidden = !narrow.matches;
    // The tabpanel role goes on a panel inside each landmark, so main and aside stay landmarks.
    document.querySelectorAll("[data-lesson-panel]").forEach((panel) => {
      const tab = tabs.find((t) => t.dataset.lessonTab === panel.dataset.lessonPanel);
      if (narrow.matches && tab) {
        panel.setAttribute("role", "tabpanel");
        panel.setAttribute("aria-labelledby", tab.id);
      } else {
        panel.removeAttribute("role");
        panel.removeAttribute("aria-labelledby");
      }
    });
  }
  if (tabList) {
    const layout = document.querySelector("[data-split-layout]");
    layout.dataset.view = "lesson";
    syncNarrow();
    narrow.addEventListener("change", () => { syncNarrow(); window.dispatchEvent(new Event("resize")); });
    tabList.addEventListener("click", (event) => {
      const tab = event.target.closest("[data-lesson-tab]");
      if (tab) showPane(tab.dataset.lessonTab);
    });
    tabList.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(document.activeElement);
      if (index < 0) return;
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (!next) return;
      event.preventDefault();
      showPane(next.dataset.lessonTab);
      next.focus();
    });
  }

  // The workbench's tab set (WAI-ARIA tabs, automatic activation). When the page has no
  // checklist after all (labs_checklists found none), the picture alone is a panel that opens
  // and closes (a disclosure button), closed at first so the terminal keeps its room.
  const bench = document.querySelector("[data-workbench-tabs]");
  const benchList = bench && bench.querySelector("[data-workbench-tablist]");
  let benchTabs = benchList ? [...benchList.querySelectorAll("[data-workbench-tab]")] : [];
  const benchPanel = (name) => bench.querySelector(`[data-workbench-panel="${name}"]`);
  const benchSingle = () => benchTabs.length === 1;
  function selectBenchTab(name) {
    if (!bench || !benchPanel(name)) return;
    if (benchSingle()) {
      benchTabs[0].setAttribute("aria-expanded", "true");
      delete bench.dataset.collapsed;
    } else {
      benchTabs.forEach((tab) => {
        const selected = tab.dataset.workbenchTab === name;
        tab.setAttribute("aria-selected", String(selected));
        tab.tabIndex = selected ? 0 : -1;
      });
    }
    bench.querySelectorAll("[data-workbench-panel]").forEach((panel) => {
      panel.hidden = panel.dataset.workbenchPanel !== name;
    });
    bench.dataset.selected = name;
    window.dispatchEvent(new Event("resize"));  // the terminal fits itself to what is left
  }
  if (bench) {
    const exercises = benchPanel("exercises");
    if (exercises && !exercises.querySelector("[data-labs-panel]")) {
      exercises.remove();
      benchTabs.filter((tab) => tab.dataset.workbenchTab === "exercises").forEach((tab) => tab.remove());
      benchTabs = benchTabs.filter((tab) => tab.isConnected);
    }
    benchList.hidden = false;
    if (benchSingle()) {
      const tab = benchTabs[0];
      benchList.removeAttribute("role");
      tab.removeAttribute("role");
      tab.removeAttribute("aria-selected");
      tab.tabIndex = 0;
      tab.setAttribute("aria-expanded", "false");
      bench.dataset.selected = tab.dataset.workbenchTab;
      bench.dataset.collapsed = "";
      tab.addEventListener("click", () => {
        if (tab.getAttribute("aria-expanded") === "true") {
          tab.setAttribute("aria-expanded", "false");
          benchPanel(tab.dataset.workbenchTab).hidden = true;
          bench.dataset.collapsed = "";
          window.dispatchEvent(new Event("resize"));
        } else {
          selectBenchTab(tab.dataset.workbenchTab);
        }
      });
    } else {
      bench.querySelectorAll("[data-workbench-panel]").forEach((panel) => {
        panel.setAttribute("role", "tabpanel");
        panel.setAttribute("aria-labelledby", panel.dataset.workbenchPanel + "-tab");
      });
      benchList.addEventListener("click", (event) => {
        const tab = event.target.closest("[data-workbench-tab]");
        if (tab) selectBenchTab(tab.dataset.workbenchTab);
      });
      benchList.addEventListener("keydown", (event) => {
        const index = benchTabs.indexOf(document.activeElement);
        if (index < 0) return;
        const last = benchTabs.length - 1;
        const moves = { ArrowRight: (index + 1) % benchTabs.length, ArrowLeft: (index + last) % benchTabs.length, Home: 0, End: last };
        if (!(event.key in moves)) return;
        event.preventDefault();
        const next = benchTabs[moves[event.key]];
        selectBenchTab(next.dataset.workbenchTab);
        next.focus();
      });
      selectBenchTab("exercises");
    }
  }

  // Links from the lesson to the picture (<a href="#picture" data-picture-open>) open its tab
  // and put the keyboard there.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-picture-open], a[href='#picture']");
    if (!link || !bench || !benchPanel("picture")) return;
    event.preventDefault();
    showPane("workbench");
    selectBenchTab("picture");
    benchPanel("picture").focus();
  });

  // In-page links (the skip links, the table of contents) into the hidden pane show it first;
  // "Skip to terminal" puts the keyboard in the shell itself.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const target = link && link.hash.length > 1 && document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!target) return;
    const pane = target.closest("[data-lesson-pane]");
    if (pane) showPane(pane.dataset.lessonPane);
    const benchTabPanel = bench && target.closest("[data-workbench-panel]");
    if (benchTabPanel && benchTabPanel.hidden) selectBenchTab(benchTabPanel.dataset.workbenchPanel);
    if (target.matches("[data-terminal]") && window.kubelabTerminal) {
      event.preventDefault();
      target.scrollIntoView({ block: "nearest" });
      window.kubelabTerminal.focus();
    }
  });

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
  let current = apply(parseFloat(window.kubelabStorage.local.getItem(key)) || 50);
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
    window.kubelabStorage.local.setItem(key, String(current));
  });
  handle.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 10 : 2;
    if (event.key === "ArrowLeft") current = apply(current - step);
    else if (event.key === "ArrowRight") current = apply(current + step);
    else return;
    event.preventDefault();
    window.kubelabStorage.local.setItem(key, String(current));
  });
})();
