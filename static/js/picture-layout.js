// The namespace picture's pure part: where each object goes, what its box says, and its
// relations in words. No DOM and no cytoscape here (picture.js draws); node can run it as is.
// Columns left to right: Services | workloads | ReplicaSets and Jobs | Pods | Nodes, then the
// ConfigMaps under the Nodes (what Pods use sits right of them). Each owner is centred on what
// it owns, so a new Pod moves its neighbours down a row and reshuffles nothing else.
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.kubelabPictureLayout = factory();
})(typeof self !== "undefined" ? self : this, () => {
  "use strict";

  const COLUMN = {
    Service: 0, Deployment: 1, DaemonSet: 1, StatefulSet: 1, CronJob: 1,
    ReplicaSet: 2, Job: 2, Pod: 3, Node: 4, ConfigMap: 4,
  };
  // Small boxes: five columns must stay legible in a 600px workbench (17 characters a line).
  const FONT_SIZE = 12;
  const COLUMN_GAP = 180;
  const BOX_WIDTH = 150;
  const LINE_HEIGHT = 15;
  const PADDING = 12;
  const ROW = 5 * LINE_HEIGHT + PADDING + 14;  // the tallest box (five lines) and a gap
  const LINE_CHARS = 17;
  // A cue besides colour for each state (also in the legend the template shows).
  const GLYPH = { ok: "●", progressing: "◐", pending: "○", failed: "✕", deleting: "⊘", done: "✓" };

  // Strings come from the page (both languages); `format` fills %(name)s placeholders.
  function format(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  function clip(text) {
    const value = String(text == null ? "" : text);
    return value.length > LINE_CHARS ? value.slice(0, LINE_CHARS - 1) + "…" : value;
  }

  // A placeholder's sentence may need a second line; more than that is clipped.
  function twoLines(text) {
    if (text.length <= LINE_CHARS) return [text];
    const cut = text.lastIndexOf(" ", LINE_CHARS);
    const at = cut > LINE_CHARS / 2 ? cut : LINE_CHARS;
    return [text.slice(0, at).trimEnd(), clip(text.slice(at).trimStart())];
  }

  // Generated names differ at their end (web-7d4b9c6f5-abcde): keep both ends.
  function clipMiddle(text) {
    const value = String(text == null ? "" : text);
    if (value.length <= LINE_CHARS) return value;
    const head = Math.ceil((LINE_CHARS - 1) / 2);
    return value.slice(0, head) + "…" + value.slice(value.length - (LINE_CHARS - 1 - head));
  }

  function labelText(labels) {
    return Object.keys(labels || {}).sort().map((key) => `${key}=${labels[key]}`).join(",");
  }

  function ownLabels(labels) {
    return Object.fromEntries(Object.entries(labels || {}).filter(([key]) => !/(^|\.)k8s\.io\/|kubernetes\.io\//.test(key)));
  }

  const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const title = (object) => `${object.kind} ${object.name}`;
  const isDrawnKind = (kind) => Object.prototype.hasOwnProperty.call(COLUMN, kind);

  // The picture as maps: every object and Node by id, and the edges whose ends both exist.
  function index(picture) {
    const things = new Map();
    (picture.nodes || []).forEach((node) => things.set(node.id, Object.assign({ kind: "Node" }, node)));
    (picture.objects || []).filter((o) => isDrawnKind(o.kind)).forEach((o) => things.set(o.id, o));
    const edges = (picture.edges || []).filter((e) => things.has(e.from) && things.has(e.to) && e.from !== e.to);
    const owner = new Map();
    const owned = new Map();
    edges.filter((e) => e.kind === "owns").forEach((e) => {
      if (owner.has(e.to)) return;  // one owner is drawn; a second would make a cycle possible
      owner.set(e.to, e.from);
      if (!owned.has(e.from)) owned.set(e.from, []);
      owned.get(e.from).push(things.get(e.to));
    });
    owned.forEach((list) => list.sort(byName));
    return { things, edges, owner, owned, dangling: picture.dangling || [] };
  }

  // Each column keeps the vertical spans taken, so late items (Services, placeholders) find room.
  function makeColumns() {
    const taken = new Map();
    return {
      take(column, y) {
        if (!taken.has(column)) taken.set(column, []);
        taken.get(column).push(y);
      },
      free(column, desired) {
        const ys = (taken.get(column) || []).slice().sort((a, b) => a - b);
        let y = desired;
        for (const other of ys) if (Math.abs(other - y) < ROW) y = other + ROW;
        return y;
      },
      bottom() {
        let max = -ROW;
        taken.forEach((ys) => ys.forEach((y) => { max = Math.max(max, y); }));
        return max + ROW;
      },
    };
  }

  function boxLines(thing, strings) {
    const glyph = thing.kind === "Node" ? (thing.ready === false ? GLYPH.failed : GLYPH.ok) : GLYPH[thing.state] || "";
    const lines = [`${glyph} ${thing.kind}`.trim(), clipMiddle(thing.name)];
    if (thing.summary) lines.push(clip(thing.summary));
    // A Node's own labels (kubernetes.io/hostname and the like) would crowd out the learner's.
    const labels = labelText(thing.kind === "Node" ? ownLabels(thing.labels) : thing.labels);
    const showLabels = thing.kind === "Pod" || thing.kind === "Node" || (thing.kind === "ReplicaSet" && labels !== (thing.selector || ""));
    if (showLabels && labels) lines.push(clip(labels));
    if (["Service", "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet"].includes(thing.kind) && thing.selector) {
      lines.push(clip(`⇢ ${thing.selector}`));  // the legend says what the arrow means
    }
    return lines;
  }

  function nodeData(thing, x, y, strings, extra) {
    const lines = extra && extra.lines ? extra.lines : boxLines(thing, strings);
    const state = thing.kind === "Node" ? (thing.ready === false ? "failed" : "ok") : thing.state || "ok";
    return Object.assign({
      id: thing.id, kind: thing.kind, name: thing.name, state,
      label: lines.join("\n"), w: BOX_WIDTH, h: lines.length * LINE_HEIGHT + PADDING,
      x, y, column: COLUMN[thing.kind],
    }, extra || {});
  }

  function layout(picture, strings) {
    strings = strings || {};
    const { things, edges, owner, owned, dangling } = index(picture);
    const columns = makeColumns();
    const boxes = new Map();
    let cursor = 0;
    function put(thing, y) {
      const column = COLUMN[thing.kind];
      boxes.set(thing.id, nodeData(thing, column * COLUMN_GAP, y, strings));
      columns.take(column, y);
    }

    // Ownership trees: leaves take the next row, an owner sits at the middle of what it owns.
    function place(thing, depth) {
      const children = (owned.get(thing.id) || []).filter((c) => !boxes.has(c.id) && depth < 8);
      let y;
      if (!children.length) {
        y = cursor;
        cursor += ROW;
      } else {
        // The middle child's row (not the exact middle): every box stays on the row grid,
        // so the gaps between rows are free lanes for the Services' arrows.
        const ys = children.map((child) => place(child, depth + 1));
        y = ys[Math.floor((ys.length - 1) / 2)];
      }
      put(thing, y);
      return y;
    }
    const treeKinds = (t) => t.kind !== "Service" && t.kind !== "ConfigMap" && t.kind !== "Node";
    const roots = [...things.values()].filter((t) => treeKinds(t) && !owner.has(t.id))
      .sort((a, b) => COLUMN[a.kind] - COLUMN[b.kind] || byName(a, b));
    roots.forEach((thing) => { if (!boxes.has(thing.id)) place(thing, 0); });
    [...things.values()].filter((t) => treeKinds(t) && !boxes.has(t.id)).sort(byName)
      .forEach((thing) => place(thing, 0));  // only an ownership cycle leaves any

    // Services beside the Pods they select; one selecting nothing goes below everything.
    const selected = new Map();
    edges.filter((e) => e.kind === "selects").forEach((e) => {
      if (!selected.has(e.from)) selected.set(e.from, []);
      if (boxes.has(e.to)) selected.get(e.from).push(boxes.get(e.to).y);
    });
    const services = [...things.values()].filter((t) => t.kind === "Service").sort(byName);
    const wanted = services.map((service) => {
      const ys = selected.get(service.id) || [];
      ys.sort((a, b) => a - b);
      return { service, y: ys.length ? ys[Math.floor((ys.length - 1) / 2)] : Infinity };
    }).sort((a, b) => a.y - b.y || byName(a.service, b.service));
    let below = columns.bottom();
    wanted.forEach(({ service, y }) => {
      if (y === Infinity) { y = below; below += ROW; }
      put(service, columns.free(0, y));
    });

    // Nodes at the top of the last column, the ConfigMaps under them.
    [...things.values()].filter((t) => t.kind === "Node").sort(byName).forEach((node, i) => put(node, i * ROW));
    let next = [...things.values()].filter((t) => t.kind === "Node").length * ROW + (things.size ? ROW / 2 : 0);
    [...things.values()].filter((t) => t.kind === "ConfigMap").sort(byName).forEach((map) => {
      put(map, next);
      next += ROW;
    });

    // What an arrow points at but is not there: a placeholder beside its source.
    const placeholders = [];
    const drawnEdges = edges.map((e) => ({
      id: `${e.kind}:${e.from}->${e.to}`, source: e.from, target: e.to, kind: e.kind,
      ready: e.ready === false ? "false" : "true",
    }));
    dangling.forEach((d) => {
      const source = boxes.get(d.from);
      if (!source) return;
      const id = `dangling:${d.from}:${d.kind}:${d.target}`;
      if (boxes.has(id)) return;
      const missingObject = /^[A-Za-z]+\/./.test(d.target || "");
      const text = missingObject
        ? format(strings.notFound || "%(object)s", { object: d.target })
        : format(strings.nothingMatches || "%(selector)s", { selector: d.target });
      const column = d.kind === "mounts" ? COLUMN.ConfigMap : Math.min(source.column + 1, COLUMN.Pod);
      const y = d.kind === "mounts" ? next : columns.free(column, source.y);
      if (d.kind === "mounts") next += ROW;
      columns.take(column, y);
      const box = nodeData({ id, kind: "Missing", name: d.target }, column * COLUMN_GAP, y, strings,
        { lines: twoLines(`✕ ${text}`), state: "missing", column, placeholder: "true" });
      delete box.lines;
      boxes.set(id, box);
      placeholders.push(id);
      drawnEdges.push({ id: `${id}:edge`, source: d.from, target: id, kind: d.kind, ready: "true", dangling: "true" });
    });

    // A Service's arrow to a Pod further right runs in the gutters between columns and the
    // lane above the higher row, so it never passes behind the workloads in between.
    drawnEdges.filter((e) => e.kind === "selects").forEach((e) => {
      const from = boxes.get(e.source);
      const to = boxes.get(e.target);
      if (!from || !to || to.column - from.column < 2) return;
      if (from.y === to.y && !blocked(from, to)) return;
      const lane = Math.min(from.y, to.y) - ROW / 2;
      // Close to the boxes' sides: the middle of a gutter is where owns arrows turn.
      const left = from.x + BOX_WIDTH / 2 + 8;
      const right = to.x - BOX_WIDTH / 2 - 8;
      Object.assign(e, segments(from, to, [[left, from.y], [left, lane], [right, lane], [right, to.y]]));
    });
    function blocked(from, to) {
      return [...boxes.values()].some((b) => b.y === from.y && b.column > from.column && b.column < to.column);
    }

    // Reading order (the list view and announcements): by column, then top to bottom.
    const order = [...boxes.values()].filter((b) => b.placeholder !== "true")
      .sort((a, b) => a.column - b.column || a.y - b.y || (a.name < b.name ? -1 : 1)).map((b) => b.id);
    return { nodes: [...boxes.values()], edges: drawnEdges, order, placeholders };
  }

  // Absolute bend points as cytoscape's segment weights and distances (relative to the line
  // between the two boxes' centres; edge-distances: node-position).
  function segments(from, to, points) {
    const dx = to.x - from.x;
    const dy = to.y - from.y;
    const length = Math.hypot(dx, dy) || 1;
    const weights = [];
    const distances = [];
    points.forEach(([x, y]) => {
      const px = x - from.x;
      const py = y - from.y;
      weights.push(((px * dx + py * dy) / (length * length)).toFixed(4));
      distances.push(((-px * dy + py * dx) / length).toFixed(1));
    });
    return { weights: weights.join(" "), distances: distances.join(" "), routed: "true" };
  }

  // One object's relations in words, for the list beside the canvas and for screen readers.
  function describe(picture, strings) {
    strings = strings || {};
    const { things, edges, owner } = index(picture);
    const list = (items) => items.join(strings.listSeparator || ", ");
    const say = (key, values) => format(strings[key], values);
    const result = new Map();
    things.forEach((thing) => {
      const clauses = [];
      if (thing.summary) clauses.push(thing.summary);
      if (thing.kind === "Node") clauses.push(say(thing.ready === false ? "nodeNotReady" : "nodeReady", {}));
      if (thing.kind === "Pod") {
        clauses.push(thing.node ? say("onNode", { name: thing.node }) : say("notScheduled", {}));
      }
      if (owner.has(thing.id)) clauses.push(say("ownedBy", { object: title(things.get(owner.get(thing.id))) }));
      const out = (kind) => edges.filter((e) => e.kind === kind && e.from === thing.id).map((e) => things.get(e.to));
      const into = (kind) => edges.filter((e) => e.kind === kind && e.to === thing.id).map((e) => things.get(e.from));
      const named = (items) => list(items.sort(byName).map(title));
      const owns = out("owns");
      if (owns.length) clauses.push(say("owns", { objects: named(owns) }));
      const selects = edges.filter((e) => e.kind === "selects" && e.from === thing.id);
      if (selects.length) {
        const names = selects.map((e) => ({ name: things.get(e.to).name, e }))
          .sort(byName).map(({ e }) => (e.ready === false ? say("notReady", { object: title(things.get(e.to)) }) : title(things.get(e.to))));
        clauses.push(say("selects", { objects: list(names) }));
      }
      const selectedBy = into("selects");
      if (selectedBy.length) clauses.push(say("selectedBy", { objects: named(selectedBy) }));
      const runs = into("runs-on");
      if (thing.kind === "Node" && runs.length) clauses.push(say("runs", { objects: named(runs) }));
      const mounts = out("mounts");
      if (mounts.length) clauses.push(say("mounts", { objects: named(mounts) }));
      const mountedBy = into("mounts");
      if (mountedBy.length) clauses.push(say("mountedBy", { objects: named(mountedBy) }));
      (picture.dangling || []).filter((d) => d.from === thing.id).forEach((d) => {
        const missingObject = /^[A-Za-z]+\/./.test(d.target || "");
        clauses.push(missingObject
          ? say(d.kind === "mounts" ? "mountsMissing" : "pointsAtMissing", { object: d.target })
          : say("selectsNothing", { selector: d.target }));
      });
      const labels = labelText(thing.labels);
      if (labels && thing.kind !== "Node") clauses.push(say("labels", { labels }));
      if (thing.selector) clauses.push(say("selector", { selector: thing.selector }));
      const details = clauses.filter(Boolean).join(strings.clauseSeparator || ", ");
      result.set(thing.id, {
        text: say("item", { object: title(thing), details }),
        node: thing.kind === "Pod" ? thing.node || "" : "",
        owner: owner.get(thing.id) || "",
      });
    });
    return result;
  }

  // What changed between two pictures, for the live region (ids of appeared and gone objects,
  // and those whose state or summary changed).
  function changes(before, after) {
    const old = before ? index(before).things : new Map();
    const now = index(after).things;
    const appeared = [...now.keys()].filter((id) => !old.has(id));
    const gone = [...old.keys()].filter((id) => !now.has(id));
    const changed = [...now.keys()].filter((id) => old.has(id)
      && (old.get(id).state !== now.get(id).state || old.get(id).summary !== now.get(id).summary
        || old.get(id).ready !== now.get(id).ready));
    return { appeared, gone, changed, things: now, previous: old };
  }

  return { layout, describe, changes, format, title, GLYPH, FONT_SIZE, LINE_HEIGHT };
});
