// The room on screen: a seat map of tiles and a sortable table. Both are built once from the
// snapshot and then changed one tile / one row per delta, so a room of 100 stays responsive.

import { formatClock } from "./format.js";
import { FINISHED, compareEntries } from "./room.js";

/** Set a node's text only when it changes (no layout work for an unchanged second). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

/** The first of ``items`` (in ``compare`` order) that comes after ``parts``, or null. */
function firstAfter(items, parts, compare) {
  let best = null;
  for (const other of items) {
    if (other === parts || compare(parts.entry, other.entry) >= 0) continue;
    if (!best || compare(other.entry, best.entry) < 0) best = other;
  }
  return best;
}

/** The parts of a candidate's view that move with the clock: time left, time offline. */
export function describeClock(entry, view) {
  const { t, now, serverNow } = view;
  const row = entry.row;
  const status = row.status;
  let time = "—";
  let timeKind = "none";
  if (status === "submitted" || status === "expelled") {
    if (row.score != null) {
      time = t("score", { score: row.score });
      timeKind = row.passed ? "passed" : "failed";
    }
  } else if (status !== "absent") {
    time = formatClock(entry.remainingMs(now));
    timeKind = entry.running ? "running" : status === "paused" ? "frozen" : "idle";
  }
  let connection = "";
  if (status === "offline") {
    const since = Date.parse(row.offline_since || "");
    const minutes = Number.isNaN(since) ? 0 : Math.floor((serverNow - since) / 60000);
    connection = minutes >= 1 ? t("offlineFor", { m: minutes }) : t("offlineJust");
  } else if (!FINISHED.has(status) && status !== "not_arrived") {
    connection = row.online ? t("online") : t("notConnected");
  }
  return { time, timeKind, connection };
}

/** What every view shows of one candidate, from the row and the two clocks. */
export function describe(entry, view) {
  const row = entry.row;
  const total = Number(row.total) || 0;
  const answered = Number(row.answered) || 0;
  return {
    ...describeClock(entry, view),
    status: row.status,
    statusLabel: view.t(`status.${row.status}`),
    seat: row.seat ? String(row.seat) : "—",
    answered: `${answered}/${total}`,
    progress: total > 0 ? Math.min(1, answered / total) : 0,
    lastActivity: view.timeOfDay(row.last_activity),
    incidents: Number(row.incidents) || 0,
    focusLosses: Number(row.focus_losses) || 0,
  };
}

// ------------------------------------------------------------------------------ seat map
/** From this many seats on, tiles are smaller so that a large room fits on one screen. */
const DENSE_FROM = 40;

export class SeatMap {
  constructor(container, view, onSelect) {
    this.container = container;
    this.view = view;
    this.tiles = new Map(); // candidate_id -> parts of the tile
    container.addEventListener("click", (event) => {
      const tile = event.target.closest(".pc-tile");
      if (tile) onSelect(Number(tile.dataset.candidateId));
    });
  }

  /** Build every tile from a snapshot, in seat order. */
  reset(entries) {
    this.tiles.clear();
    const fragment = document.createDocumentFragment();
    for (const entry of [...entries].sort((a, b) => compareEntries("seat", a, b))) {
      const parts = this._build(entry);
      this._fill(parts, entry);
      fragment.append(parts.tile);
    }
    this.container.replaceChildren(fragment);
    this.container.classList.toggle("dense", this.tiles.size > DENSE_FROM);
  }

  /** Apply one delta to its tile (adding the tile for a candidate not seen before). */
  update(entry) {
    let parts = this.tiles.get(entry.id);
    if (!parts) {
      parts = this._build(entry);
      parts.entry = entry;
      const before = firstAfter(this.tiles.values(), parts, (a, b) => compareEntries("seat", a, b));
      this.container.insertBefore(parts.tile, before ? before.tile : null);
      this.container.classList.toggle("dense", this.tiles.size > DENSE_FROM);
    }
    this._fill(parts, entry);
  }

  /** The clock of one running tile moved on. */
  tick(entry) {
    const parts = this.tiles.get(entry.id);
    if (parts) this._fillTime(parts, { status: entry.row.status, ...describeClock(entry, this.view) });
  }

  select(candidateId) {
    for (const [id, parts] of this.tiles) parts.tile.classList.toggle("selected", id === candidateId);
  }

  setPending(candidateId, pending) {
    const parts = this.tiles.get(candidateId);
    if (parts) {
      parts.pending.hidden = !pending;
      parts.tile.classList.toggle("pending", pending);
    }
  }

  _build(entry) {
    const tile = el("button", "pc-tile");
    tile.type = "button";
    tile.setAttribute("role", "listitem");
    tile.dataset.candidateId = String(entry.id);
    tile.dataset.admissionNo = entry.row.admission_no || "";
    const top = el("div", "pc-tile-top");
    const seat = el("span", "pc-seat");
    const badges = el("span", "pc-badges");
    const pending = el("span", "pc-badge pc-badge-pending", "!");
    pending.title = this.view.t("pendingBadge");
    pending.hidden = true;
    const incidents = el("span", "pc-badge pc-badge-incident pc-incidents");
    const focus = el("span", "pc-badge pc-badge-focus pc-focus");
    badges.append(pending, incidents, focus);
    top.append(seat, badges);
    const name = el("div", "pc-name");
    const status = el("div", "pc-chip pc-status");
    const progress = el("div", "pc-progress");
    const bar = el("span", "pc-bar");
    const fill = el("span", "pc-fill");
    bar.append(fill);
    const answered = el("span", "pc-answered");
    progress.append(bar, answered);
    const foot = el("div", "pc-tile-foot");
    const time = el("span", "pc-time");
    const connection = el("span", "pc-connection");
    foot.append(time, connection);
    tile.append(top, name, status, progress, foot);
    const parts = { tile, seat, name, status, fill, answered, time, connection, incidents, focus, pending, entry };
    this.tiles.set(entry.id, parts);
    return parts;
  }

  _fill(parts, entry) {
    const d = describe(entry, this.view);
    const { t } = this.view;
    parts.entry = entry;
    parts.tile.dataset.status = d.status;
    parts.tile.dataset.attemptId = String(entry.row.attempt_id ?? "");
    parts.tile.dataset.online = entry.row.online ? "1" : "0";
    setText(parts.seat, d.seat);
    setText(parts.name, entry.row.name || "");
    setText(parts.status, d.statusLabel);
    parts.status.dataset.status = d.status;
    setText(parts.answered, d.answered);
    parts.fill.style.width = `${Math.round(d.progress * 100)}%`;
    parts.incidents.hidden = d.incidents === 0;
    setText(parts.incidents, `⚠ ${d.incidents}`);
    parts.incidents.title = t("incidents", { n: d.incidents });
    parts.focus.hidden = d.focusLosses === 0;
    setText(parts.focus, `⇆ ${d.focusLosses}`);
    parts.focus.title = t("focusLosses", { n: d.focusLosses });
    parts.tile.title = `${t("seat", { n: d.seat })} · ${entry.row.name || ""} · ${entry.row.admission_no || ""}`;
    this._fillTime(parts, d);
  }

  _fillTime(parts, d) {
    setText(parts.time, d.time);
    parts.time.dataset.kind = d.timeKind;
    setText(parts.connection, d.status === "offline" ? d.connection : "");
  }
}

// ------------------------------------------------------------------------------ table
const COLUMNS = ["seat", "name", "admission", "status", "answered", "time", "connection", "activity", "incidents", "focus"];
const NUMERIC = new Set(["answered", "time", "incidents", "focus"]);

export class RosterTable {
  constructor(tbody, head, view, onSelect) {
    this.tbody = tbody;
    this.view = view;
    this.rows = new Map(); // candidate_id -> {tr, cells, entry}
    this.sortKey = "seat";
    this.sortButtons = [...head.querySelectorAll("button[data-sort]")];
    tbody.addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-candidate-id]");
      if (tr) onSelect(Number(tr.dataset.candidateId));
    });
    tbody.addEventListener("keydown", (event) => {
      const tr = event.target.closest("tr[data-candidate-id]");
      if (tr && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        onSelect(Number(tr.dataset.candidateId));
      }
    });
    for (const button of this.sortButtons) {
      button.addEventListener("click", () => this.sortBy(button.dataset.sort));
    }
  }

  reset(entries) {
    this.rows.clear();
    const fragment = document.createDocumentFragment();
    for (const entry of this._sorted(entries)) {
      const parts = this._build(entry);
      this._fill(parts, entry);
      fragment.append(parts.tr);
    }
    this.tbody.replaceChildren(fragment);
  }

  update(entry) {
    let parts = this.rows.get(entry.id);
    const isNew = !parts;
    if (isNew) parts = this._build(entry);
    const moved = isNew || compareEntries(this.sortKey, parts.entry, entry) !== 0;
    this._fill(parts, entry);
    if (moved) this._place(parts);
  }

  tick(entry) {
    const parts = this.rows.get(entry.id);
    if (!parts) return;
    const d = describeClock(entry, this.view);
    setText(parts.cells.time, d.time);
    parts.cells.time.dataset.kind = d.timeKind;
    setText(parts.cells.connection, d.connection);
  }

  select(candidateId) {
    for (const [id, parts] of this.rows) parts.tr.classList.toggle("selected", id === candidateId);
  }

  setPending(candidateId, pending) {
    const parts = this.rows.get(candidateId);
    if (parts) parts.tr.classList.toggle("pending", pending);
  }

  sortBy(key) {
    this.sortKey = key;
    for (const button of this.sortButtons) {
      if (button.dataset.sort === key) button.setAttribute("aria-sort", "ascending");
      else button.removeAttribute("aria-sort");
    }
    const fragment = document.createDocumentFragment();
    for (const entry of this._sorted([...this.rows.values()].map((p) => p.entry))) {
      fragment.append(this.rows.get(entry.id).tr);
    }
    this.tbody.append(fragment);
  }

  _sorted(entries) {
    return [...entries].sort((a, b) => compareEntries(this.sortKey, a, b));
  }

  /** Move one row to its place in the current order (the others stay where they are). */
  _place(parts) {
    const before = firstAfter(this.rows.values(), parts, (a, b) => compareEntries(this.sortKey, a, b));
    this.tbody.insertBefore(parts.tr, before ? before.tr : null);
  }

  _build(entry) {
    const tr = el("tr");
    tr.dataset.candidateId = String(entry.id);
    tr.dataset.admissionNo = entry.row.admission_no || "";
    tr.tabIndex = 0;
    const cells = {};
    for (const column of COLUMNS) {
      const td = el("td", `pc-col-${column}${NUMERIC.has(column) ? " num" : ""}`);
      cells[column] = td;
      tr.append(td);
    }
    const chip = el("span", "pc-chip");
    cells.status.append(chip);
    cells.chip = chip;
    const parts = { tr, cells, entry };
    this.rows.set(entry.id, parts);
    return parts;
  }

  _fill(parts, entry) {
    const d = describe(entry, this.view);
    const { cells } = parts;
    parts.entry = entry;
    parts.tr.dataset.status = d.status;
    setText(cells.seat, d.seat);
    setText(cells.name, entry.row.name || "");
    setText(cells.admission, entry.row.admission_no || "");
    setText(cells.chip, d.statusLabel);
    cells.chip.dataset.status = d.status;
    setText(cells.answered, d.answered);
    setText(cells.time, d.time);
    cells.time.dataset.kind = d.timeKind;
    setText(cells.connection, d.connection);
    setText(cells.activity, d.lastActivity);
    setText(cells.incidents, d.incidents ? String(d.incidents) : "");
    setText(cells.focus, d.focusLosses ? String(d.focusLosses) : "");
  }
}
