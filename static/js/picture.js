// The namespace picture (templates/sandbox/_picture.html): the learner's objects drawn live with
// cytoscape, the same picture as a list in words, and each object's YAML and events on demand.
// Pictures arrive whole over the ws/picture/ socket; picture-layout.js places them, this file
// draws them and animates the differences. Every name and label is data: textContent only.
(() => {
  "use strict";
  if (window.kubelabPicture && window.kubelabPicture.render) return;  // the partial, included twice
  const Layout = window.kubelabPictureLayout;
  const Details = window.kubelabPictureDetails;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const DURATION = 300;
  const PING_EVERY = 20000;
  const CLOSE_HIDDEN_AFTER = 60000;  // a picture nobody looks at stops costing the server
  const ANNOUNCE_AFTER = 1500;  // a burst of changes is one announcement

  // State colours on the dark workbench; the glyph and border style are the non-colour cues.
  const STATE = {
    ok: { fill: "#10261a", border: "#3fb950", style: "solid" },
    progressing: { fill: "#2d2208", border: "#d29922", style: "solid" },
    pending: { fill: "#1c2128", border: "#d29922", style: "dashed" },
    failed: { fill: "#3a1416", border: "#f85149", style: "solid" },  // and a thicker border
    deleting: { fill: "#161b22", border: "#8b949e", style: "dotted" },
    done: { fill: "#161b22", border: "#8b949e", style: "solid" },
    missing: { fill: "#0d1117", border: "#f85149", style: "dashed" },
  };

  function stylesheet() {
    const rules = [
      { selector: "node", style: {
        shape: "round-rectangle", width: "data(w)", height: "data(h)", label: "data(label)",
        "text-wrap": "wrap", "text-valign": "center", "text-halign": "center", "text-justification": "left",
        "font-size": Layout.FONT_SIZE, "line-height": Layout.LINE_HEIGHT / Layout.FONT_SIZE, color: "#e6edf3", "font-family": "system-ui, Noto Sans TC, sans-serif",
        "border-width": 2, "background-color": STATE.ok.fill, "border-color": STATE.ok.border,
      } },
      { selector: "node[kind = 'Node']", style: { "background-color": "#0f2233", "border-color": "#58a6ff" } },
      { selector: "node[kind = 'Node'][state = 'failed']", style: { "border-color": "#f85149", "border-style": "dashed" } },
      { selector: "node[placeholder = 'true']", style: { color: "#ffa198", "border-width": 2 } },
      { selector: "node[state = 'deleting']", style: { opacity: 0.65 } },
      { selector: "node[state = 'failed']", style: { "border-width": 3.5 } },
      { selector: "node.is-focused", style: { "overlay-color": "#58a6ff", "overlay-opacity": 0.25, "overlay-padding": 6 } },
      { selector: "edge", style: {
        width: 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.9,
        "line-color": "#8b949e", "target-arrow-color": "#8b949e",
      } },
      { selector: "edge[kind = 'owns'], edge[kind = 'runs-on'], edge[kind = 'mounts']", style: {
        "curve-style": "taxi", "taxi-direction": "rightward", "taxi-turn": "50%",
      } },
      { selector: "edge[kind = 'selects']", style: { "line-style": "dashed", "line-color": "#58a6ff", "target-arrow-color": "#58a6ff" } },
      { selector: "edge[routed = 'true']", style: {
        "curve-style": "segments", "segment-weights": "data(weights)", "segment-distances": "data(distances)",
        "edge-distances": "node-position",
      } },
      { selector: "edge[kind = 'selects'][ready = 'false']", style: { "line-color": "#f85149", "target-arrow-color": "#f85149", opacity: 0.55 } },
      { selector: "edge[kind = 'runs-on']", style: { "line-style": "dotted", width: 1.2, "line-color": "#6e7681", "target-arrow-color": "#6e7681" } },
      { selector: "edge[kind = 'mounts']", style: {
        "line-style": "dashed", "line-dash-pattern": [2, 3], "line-color": "#a371f7", "target-arrow-color": "#a371f7", "target-arrow-shape": "square", "arrow-scale": 0.6,
      } },
      { selector: "edge[dangling = 'true']", style: {
        "curve-style": "bezier", "line-style": "dashed", "line-dash-pattern": [6, 4], width: 2, opacity: 1,
        "line-color": "#f85149", "target-arrow-color": "#f85149", "target-arrow-shape": "triangle",
      } },
    ];
    Object.entries(STATE).forEach(([state, look]) => rules.splice(2, 0, {
      selector: `node[state = '${state}'][kind != 'Node']`,
      style: { "background-color": look.fill, "border-color": look.border, "border-style": look.style },
    }));
    return rules;
  }

  const instances = new WeakMap();
  let count = 0;

  // cytoscape adds a <style> for its container (position: relative) unless an element with this
  // id exists. picture.css has that rule, so naming its <link> keeps inline styles off the page
  // (the site's CSP could then drop 'unsafe-inline' from style-src as far as the picture goes).
  function claimCytoscapeStylesheet() {
    if (document.getElementById("__________cytoscape_stylesheet")) return;
    const link = document.querySelector("link[data-picture-css]");
    if (link) link.id = "__________cytoscape_stylesheet";
  }

  function setup(root) {
    if (instances.has(root)) return instances.get(root);
    const part = (name) => root.querySelector(`[data-picture-${name}]`);
    const template = root.querySelector("template[data-picture-strings]");
    const inst = {
      root, strings: template ? template.dataset : {},
      canvas: part("canvas"), list: part("list"), live: part("live"), notice: part("notice"),
      status: part("status"), namespace: part("namespace"), dialog: part("dialog"),
      shown: -1, picture: null, items: new Map(), pending: [], announceTimer: 0,
      socket: null, stopped: false, retries: 0, visible: false,
    };
    count += 1;
    const dialogTitle = inst.dialog && inst.dialog.querySelector("[data-picture-dialog-title]");
    if (dialogTitle) {
      dialogTitle.id = `picture-dialog-title-${count}`;
      inst.dialog.setAttribute("aria-labelledby", dialogTitle.id);
    }
    claimCytoscapeStylesheet();
    inst.cy = window.cytoscape({
      container: inst.canvas, style: stylesheet(), layout: { name: "preset" },
      minZoom: 0.2, maxZoom: 2, boxSelectionEnabled: false, autoungrabify: true, autounselectify: true,
      userZoomingEnabled: false,
    });
    // The wheel scrolls the picture (as it would a page); with Ctrl it zooms at the pointer.
    inst.canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      if (event.ctrlKey) {
        const box = inst.canvas.getBoundingClientRect();
        const level = inst.cy.zoom() * Math.exp(-event.deltaY / 300);
        inst.cy.zoom({ level, renderedPosition: { x: event.clientX - box.left, y: event.clientY - box.top } });
      } else {
        inst.cy.panBy({ x: -event.deltaX, y: -event.deltaY });
      }
    }, { passive: false });
    inst.cy.on("tap", "node", (event) => {
      const id = event.target.id();
      const item = inst.items.get(id);
      if (item) Details.open(inst, id, item.querySelector("button"));
    });
    const fit = part("fit");
    if (fit) fit.addEventListener("click", () => fitView(inst, true));
    const view = part("view");
    if (view) view.addEventListener("click", () => {
      const list = view.getAttribute("aria-pressed") !== "true";
      view.setAttribute("aria-pressed", String(list));
      root.dataset.view = list ? "list" : "picture";
      if (!list) requestAnimationFrame(() => { inst.cy.resize(); fitView(inst); });
    });
    inst.list.addEventListener("keydown", (event) => moveInList(inst, event));
    inst.list.addEventListener("focusin", (event) => highlight(inst, event.target.closest("[data-picture-object]")));
    inst.list.addEventListener("focusout", () => highlight(inst, null));
    inst.list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-picture-details]");
      if (button) Details.open(inst, button.closest("[data-picture-object]").dataset.pictureObject, button);
    });
    Details.setup(inst);
    if (!root.dataset.wsPath && inst.status) inst.status.hidden = true;  // drawn by render() only
    new ResizeObserver(() => { inst.cy.resize(); if (!inst.moved) fitView(inst); }).observe(inst.canvas);
    inst.cy.on("viewport", () => { if (!inst.fitting) inst.moved = true; });
    instances.set(root, inst);
    return inst;
  }

  // By default the picture's width fits (text stays legible; a tall picture scrolls) and its top
  // left is in view; "Fit" shows all of it however small. Never above 1.2 or below 0.6.
  function fitView(inst, whole) {
    const cy = inst.cy;
    const width = inst.canvas.clientWidth;
    const height = inst.canvas.clientHeight;
    const box = cy.elements().boundingBox();
    if (!width || !height || !cy.elements().length) return;
    const margin = 12;
    const across = (width - 2 * margin) / box.w;
    const down = (height - 2 * margin) / box.h;
    const zoom = whole ? Math.min(across, down, 1.2) : Math.max(0.6, Math.min(across, 1.2, Math.max(down, 0.8)));
    inst.fitting = true;
    cy.zoom(zoom);
    const spare = width - box.w * zoom;
    cy.pan({ x: (spare > 0 ? spare / 2 : margin) - box.x1 * zoom, y: (whole && height > box.h * zoom ? (height - box.h * zoom) / 2 : margin) - box.y1 * zoom });
    inst.fitting = false;
    inst.moved = false;
  }

  // The picture itself: add what is new, fade out what went, move and recolour the rest.
  function draw(inst, picture) {
    if (typeof picture.revision === "number" && picture.namespace === (inst.picture || {}).namespace && picture.revision < inst.shown) return;
    const model = Layout.layout(picture, inst.strings);
    const animate = !reducedMotion.matches && inst.picture !== null;
    const duration = animate ? DURATION : 0;
    const cy = inst.cy;
    const wanted = new Set([...model.nodes, ...model.edges].map((e) => e.id));
    cy.batch(() => {
      cy.elements().forEach((ele) => {
        if (wanted.has(ele.id()) || ele.hasClass("is-leaving")) return;
        if (!animate) { ele.remove(); return; }
        ele.addClass("is-leaving");
        ele.animate({ style: { opacity: 0 } }, { duration, complete: () => ele.remove() });
      });
      model.nodes.forEach((data) => {
        const { x, y } = data;
        let ele = cy.getElementById(data.id);
        if (ele.nonempty() && ele.hasClass("is-leaving")) {
          ele.stop().removeClass("is-leaving").removeStyle("opacity");
        }
        if (ele.empty()) {
          ele = cy.add({ group: "nodes", data, position: { x, y } });
          if (animate) {
            ele.style({ opacity: 0, width: data.w * 0.6, height: data.h * 0.6 });
            ele.animate({ style: { opacity: 1, width: data.w, height: data.h } },
              { duration, complete: () => ele.removeStyle("opacity width height") });
          }
          return;
        }
        // A state change eases from the old colours to the new (the stylesheet's, read from
        // STATE: inside a batch cytoscape has not restyled the element yet).
        const from = STATE[ele.data("state")];
        const to = STATE[data.state];
        ele.data(data);
        if (animate && from && to && from !== to && data.kind !== "Node") {
          ele.style({ "background-color": from.fill, "border-color": from.border })
            .animate({ style: { "background-color": to.fill, "border-color": to.border } },
              { duration, complete: () => ele.removeStyle("background-color border-color") });
        }
        const position = ele.position();
        if (position.x !== x || position.y !== y) {
          if (animate) ele.animate({ position: { x, y } }, { duration });
          else ele.position({ x, y });
        }
      });
      model.edges.forEach((data) => {
        let ele = cy.getElementById(data.id);
        if (ele.nonempty() && ele.hasClass("is-leaving")) ele.stop().removeClass("is-leaving").removeStyle("opacity");
        if (ele.nonempty()) { ele.data(data); return; }
        ele = cy.add({ group: "edges", data });
        if (animate) {
          ele.style("opacity", 0).animate({ style: { opacity: 1 } }, { duration, complete: () => ele.removeStyle("opacity") });
        }
      });
    });
    const first = inst.picture === null;
    const previous = inst.picture;
    inst.picture = picture;
    inst.shown = typeof picture.revision === "number" ? picture.revision : inst.shown;
    inst.root.dataset.pictureRevision = String(inst.shown);
    if (inst.namespace) inst.namespace.textContent = picture.namespace || "";
    drawList(inst, picture, model);
    if (!first) announce(inst, previous, picture);
    showNotice(inst, noticeFor(inst, picture));
    if (first || !inst.moved) fitView(inst);
    const objects = (picture.objects || []).length;
    const revision = picture.revision;
    requestAnimationFrame(() => {
      window.kubelabPicture.drawn = { revision, at: Date.now(), objects };
    });
  }

  function noticeFor(inst, picture) {
    if (!(picture.objects || []).length) return inst.strings.empty;
    return picture.truncated ? inst.strings.truncated : "";
  }

  function showNotice(inst, text) {
    if (!inst.notice) return;
    inst.notice.textContent = text || "";
    inst.notice.hidden = !text;
  }

  // The text alternative: one item per object, kept (not rebuilt) so focus stays where it was.
  function drawList(inst, picture, model) {
    const words = Layout.describe(picture, inst.strings);
    const things = new Map([...(picture.nodes || []).map((n) => [n.id, Object.assign({ kind: "Node" }, n)]),
      ...(picture.objects || []).map((o) => [o.id, o])]);
    const focused = document.activeElement;
    const order = model.order.filter((id) => words.has(id));
    inst.items.forEach((item, id) => {
      if (!words.has(id)) { item.remove(); inst.items.delete(id); }
    });
    order.forEach((id, position) => {
      const thing = things.get(id);
      const said = words.get(id);
      let item = inst.items.get(id);
      if (!item) {
        item = document.createElement("li");
        item.className = "picture__item";
        const text = document.createElement("span");
        text.className = "picture__text";
        const button = document.createElement("button");
        button.type = "button";
        button.className = "picture__details-button";
        button.dataset.pictureDetails = "";
        button.tabIndex = -1;
        item.append(text, " ", button);
        inst.items.set(id, item);
      }
      item.dataset.pictureObject = id;
      item.dataset.kind = thing.kind;
      item.dataset.state = thing.kind === "Node" ? (thing.ready === false ? "failed" : "ok") : thing.state || "";
      item.dataset.node = said.node;
      item.dataset.owner = said.owner;
      if (thing.kind === "Pod") item.dataset.ready = String(thing.ready === true);
      else delete item.dataset.ready;
      item.querySelector(".picture__text").textContent = said.text;
      const button = item.querySelector("button");
      button.textContent = inst.strings.details || "";
      button.setAttribute("aria-label", Layout.format(inst.strings.detailsOf, { object: Layout.title(thing) }));
      if (inst.list.children[position] !== item) inst.list.insertBefore(item, inst.list.children[position] || null);
    });
    // One stop in the Tab order (the list's first or last focused object); arrows move within.
    const buttons = [...inst.list.querySelectorAll("button[data-picture-details]")];
    if (buttons.length && !buttons.some((b) => b.tabIndex === 0)) buttons[0].tabIndex = 0;
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
  }

  function moveInList(inst, event) {
    const buttons = [...inst.list.querySelectorAll("button[data-picture-details]")];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const keys = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 };
    if (!(event.key in keys)) return;
    event.preventDefault();
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, keys[event.key]))];
    buttons.forEach((b) => { b.tabIndex = b === next ? 0 : -1; });
    next.focus();
  }

  function highlight(inst, item) {
    inst.cy.nodes(".is-focused").removeClass("is-focused");
    if (item) inst.cy.getElementById(item.dataset.pictureObject).addClass("is-focused");
  }

  // "Pod web-xyz appeared", "Pod web-abc deleted": collected, then said once per burst.
  function announce(inst, before, after) {
    const { appeared, gone, changed, things, previous } = Layout.changes(before, after);
    const title = (thing) => Layout.title(thing);
    appeared.forEach((id) => inst.pending.push(Layout.format(inst.strings.appeared, { object: title(things.get(id)) })));
    gone.forEach((id) => inst.pending.push(Layout.format(inst.strings.deleted, { object: title(previous.get(id)) })));
    changed.forEach((id) => {
      const thing = things.get(id);
      if (thing.summary) inst.pending.push(Layout.format(inst.strings.changed, { object: title(thing), summary: thing.summary }));
    });
    if (!inst.pending.length || inst.announceTimer) return;
    inst.announceTimer = setTimeout(() => {
      const said = [...new Set(inst.pending)];
      inst.pending = [];
      inst.announceTimer = 0;
      const shown = said.slice(0, 3);
      if (said.length > 3) shown.push(Layout.format(inst.strings.more, { n: said.length - 3 }));
      inst.live.textContent = shown.join(inst.strings.sentenceSeparator || ". ");
    }, ANNOUNCE_AFTER);
  }

  // The socket: a picture whenever the namespace changes, pinged while the picture is seen.
  function setStatus(inst, state) {
    if (!inst.status) return;
    inst.status.dataset.state = state;
    inst.status.querySelector("[data-picture-status-text]").textContent = inst.strings[`status${state[0].toUpperCase()}${state.slice(1)}`] || "";
  }

  function connect(inst) {
    const path = inst.root.dataset.wsPath;
    if (!path || inst.stopped || inst.socket) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}${path}`);
    inst.socket = socket;
    setStatus(inst, inst.retries ? "reconnecting" : "connecting");
    socket.addEventListener("open", () => {
      inst.retries = 0;
      setStatus(inst, "live");
      ping(inst);
      inst.pinger = setInterval(() => ping(inst), PING_EVERY);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (ignored) { return; }
      if (message.type === "picture") draw(inst, message);
      else if (message.type === "picture.unavailable") showNotice(inst, message.reason || inst.strings.unavailable);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(inst.pinger);
      inst.socket = null;
      if (event.code === 4401 || event.code === 4404) {
        inst.stopped = true;
        setStatus(inst, "stopped");
        showNotice(inst, event.code === 4401 ? inst.strings.loggedOut : inst.strings.notAllowed);
        return;
      }
      if (!inst.visible) { setStatus(inst, "paused"); return; }
      setStatus(inst, "reconnecting");
      const delay = Math.min(30000, 1000 * 2 ** inst.retries) * (0.75 + Math.random() / 2);
      inst.retries += 1;
      inst.retry = setTimeout(() => connect(inst), delay);
    });
  }

  function ping(inst) {
    if (inst.socket && inst.socket.readyState === WebSocket.OPEN && inst.visible && !document.hidden) {
      inst.socket.send(JSON.stringify({ type: "ping" }));
    }
  }

  // Connect when the picture is first seen (its tab opened); close a minute after it is not.
  function watchVisibility(inst) {
    const update = (visible) => {
      inst.visible = visible && !document.hidden;
      clearTimeout(inst.hiddenTimer);
      if (inst.visible) {
        inst.cy.resize();
        if (!inst.moved) fitView(inst);
        if (inst.socket) ping(inst);
        else if (!inst.retry || inst.retries === 0) connect(inst);
      } else if (inst.socket) {
        inst.hiddenTimer = setTimeout(() => { if (inst.socket) inst.socket.close(1000); }, CLOSE_HIDDEN_AFTER);
      }
    };
    let intersecting = false;
    new IntersectionObserver((entries) => {
      intersecting = entries[entries.length - 1].isIntersecting;
      update(intersecting);
    }).observe(inst.root);
    document.addEventListener("visibilitychange", () => update(intersecting));
  }

  window.kubelabPicture = Object.assign(window.kubelabPicture || {}, {
    // Draw a picture without a socket (tests, the benchmark).
    render(root, picture) {
      draw(setup(root), picture);
    },
  });
  document.querySelectorAll("[data-picture]").forEach((root) => {
    const inst = setup(root);
    if (root.dataset.wsPath) watchVisibility(inst);
  });
})();
