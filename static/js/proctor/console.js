// The proctor console: watches one exam session over the /proctor Socket.IO namespace
// (docs/protocol.md, "Proctor console"). A `watch` answers with a full snapshot; `candidate`
// deltas then replace one row each and `event` entries are added to the log. After a reconnect
// the console watches again and rebuilds itself from the fresh snapshot.

import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";
import { ACTIONS, ActionDialog, applies, errorText, payloadFor, send } from "./actions.js";
import { EventLog, PendingExpulsions, who } from "./eventlog.js";
import { dateTime, timeOfDay, translator } from "./format.js";
import { Room } from "./room.js";
import { RosterTable, SeatMap, describe, describeClock } from "./views.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("console-config").textContent);
const t = translator(config.i18n);
const SESSION_ID = config.session_id;
const CAN_ACT = Boolean(config.can_act);
const VIEW_KEY = "proctor.view";
const WATCH_TIMEOUT_MS = 15000;

const state = {
  session: null, // the `session` block of the last snapshot, kept current by room events
  clockOffset: 0, // server time minus this computer's time, from the snapshot
  selected: null, // candidate_id shown in the side panel
  watching: false, // a watch is on its way: pushes wait until its snapshot is shown
  buffered: [],
  toastTimer: null,
};

/** What the views need to draw a candidate: strings and the two clocks. */
const view = {
  t,
  timeOfDay: timeOfDay(config.locale, config.timezone),
  get now() {
    return performance.now();
  },
  get serverNow() {
    return Date.now() + state.clockOffset;
  },
};
const dateTimeOf = dateTime(config.locale, config.timezone);

const room = new Room();
const seatMap = new SeatMap($("seat-map"), view, select);
const table = new RosterTable($("roster-body"), $("roster-table").tHead, view, select);
const log = new EventLog($("event-log"), $("event-log-empty"), view, room);
const pending = new PendingExpulsions();
const dialog = new ActionDialog($("action-dialog"), t, runAction);

// ----------------------------------------------------------------------------- connection
const socket = io("/proctor", {
  transports: ["websocket", "polling"],
  reconnection: true,
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  timeout: 10000,
});

function setConnection(name, message) {
  $("console").dataset.state = name;
  $("conn-state").dataset.state = name;
  $("conn-text").textContent = t(`conn.${name}`);
  const refused = $("conn-refused");
  refused.hidden = name !== "refused";
  if (name === "refused") $("conn-refused-text").textContent = t("refused", { message: message || "" });
}

socket.on("connect", watch);
socket.on("disconnect", (reason) => {
  state.watching = false;
  setConnection("reconnecting");
  // The server closed the connection (a restart, a logout): connect again; a refusal then says why.
  if (reason === "io server disconnect") socket.connect();
});
socket.on("connect_error", (err) => {
  // A refusal by the server (no staff login) is final; a network error is retried by itself.
  if (socket.active) setConnection("reconnecting");
  else setConnection("refused", (err && err.data && err.data.message) || (err && err.message));
});
socket.on("candidate", (row) => (state.watching ? state.buffered.push(["candidate", row]) : applyRow(row)));
socket.on("event", (event) => (state.watching ? state.buffered.push(["event", event]) : applyEvent(event)));

/** Watch the session: show its full snapshot, then the pushes that came meanwhile. */
function watch() {
  state.watching = true;
  state.buffered = [];
  setConnection("connecting");
  socket.timeout(WATCH_TIMEOUT_MS).emit("watch", { session_id: SESSION_ID }, (err, ack) => {
    if (!socket.connected) return;
    if (err || !ack) {
      setTimeout(() => socket.connected && watch(), 2000);
      return;
    }
    if (!ack.ok) {
      state.watching = false;
      setConnection("refused", errorText(ack, t));
      return;
    }
    showSnapshot(ack);
    const buffered = state.buffered;
    state.buffered = [];
    state.watching = false;
    for (const [kind, data] of buffered) {
      if (kind === "candidate") applyRow(data);
      else applyEvent(data);
    }
    setConnection("live");
  });
}

function showSnapshot(ack) {
  const arrived = performance.now();
  const serverTime = Date.parse(ack.server_time || "");
  state.clockOffset = Number.isNaN(serverTime) ? 0 : serverTime - Date.now();
  state.session = ack.session || {};
  room.clear();
  for (const row of ack.roster || []) room.put(row, arrived);
  const entries = [...room.entries.values()];
  seatMap.reset(entries);
  table.reset(entries);
  $("room-empty").hidden = entries.length > 0;
  const events = ack.events || [];
  log.reset(events);
  pending.reset(events);
  showPending();
  showCounters();
  showSession();
  if (state.selected != null && !room.get(state.selected)) state.selected = null;
  select(state.selected);
}

// ----------------------------------------------------------------------------- deltas
function applyRow(row) {
  const stored = room.put(row, performance.now());
  if (!stored) return;
  seatMap.update(stored.entry);
  table.update(stored.entry);
  $("room-empty").hidden = true;
  if (!stored.previous || stored.previous.status !== row.status) showCounters();
  if (row.candidate_id === state.selected) renderPanel();
}

function applyEvent(event) {
  if (!event || !log.add(event)) return;
  if (pending.apply(event)) showPending();
  const session = state.session;
  if (session && event.kind === "start_room" && !session.room_started_at) {
    session.room_started_at = event.at;
    showSession();
  }
  if (session && event.kind === "close_session" && !session.closed_at) {
    session.closed_at = event.at;
    showSession();
  }
}

function showCounters() {
  for (const [key, value] of Object.entries(room.counters())) {
    const node = $(`counter-${key}`);
    if (node && node.textContent !== String(value)) node.textContent = String(value);
  }
}

function showSession() {
  const s = state.session || {};
  const badge = $("room-state");
  let text;
  let kind = "";
  if (s.closed_at) {
    text = t("room.closed", { time: dateTimeOf(s.closed_at) });
  } else if (s.start_mode === "proctor") {
    text = s.room_started_at ? t("room.started", { time: dateTimeOf(s.room_started_at) }) : t("room.not_started");
    kind = s.room_started_at ? "ok" : "warn";
  } else {
    text = t("room.window", { from: dateTimeOf(s.opens_at), to: dateTimeOf(s.closes_at) });
    kind = "ok";
  }
  badge.textContent = text;
  badge.className = `badge ${kind}`.trim();
  $("console").dataset.closed = s.closed_at ? "1" : "0";
  for (const button of document.querySelectorAll("#room-actions button[data-action]")) {
    const started = button.dataset.action === "start_room" && Boolean(s.room_started_at);
    button.disabled = Boolean(s.closed_at);
    button.classList.toggle("primary", button.dataset.action === "start_room" && !started);
  }
}

// ----------------------------------------------------------------------------- side panel
function select(candidateId) {
  state.selected = candidateId != null && room.get(candidateId) ? candidateId : null;
  seatMap.select(state.selected);
  table.select(state.selected);
  renderPanel();
}

function setText(id, text) {
  const node = $(id);
  if (node.textContent !== text) node.textContent = text;
}

function optional(name, value) {
  for (const node of document.querySelectorAll(`#candidate-panel [data-optional="${name}"]`)) {
    node.hidden = value == null || value === "";
  }
}

function renderPanel() {
  const panel = $("candidate-panel");
  const entry = state.selected != null ? room.get(state.selected) : null;
  panel.hidden = !entry;
  if (!entry) return;
  const row = entry.row;
  const d = describe(entry, view);
  panel.dataset.candidateId = String(row.candidate_id);
  panel.dataset.status = row.status;
  setText("p-seat", row.seat ? t("seat", { n: row.seat }) : t("noSeat"));
  setText("p-name", row.name || "");
  setText("p-admission", row.admission_no || "");
  // Identity details the roster may carry (photo, masked ID number, employer, job type).
  const idText = row.id_number_masked || row.id_number || "";
  setText("p-id", idText);
  optional("id", idText);
  setText("p-employer", row.employer || "");
  optional("employer", row.employer);
  setText("p-job", row.job_type || "");
  optional("job", row.job_type);
  const photo = $("p-photo");
  if (row.photo_url) {
    if (photo.getAttribute("src") !== row.photo_url) photo.src = row.photo_url;
    photo.hidden = false;
  } else {
    photo.hidden = true;
    photo.removeAttribute("src");
  }
  const chip = $("p-status");
  setText("p-status", d.statusLabel);
  chip.dataset.status = row.status;
  setText("p-answered", d.answered);
  setText("p-remaining", d.time);
  $("p-remaining").dataset.kind = d.timeKind;
  setText("p-online", d.connection || "—");
  setText("p-activity", d.lastActivity);
  setText("p-incidents", String(d.incidents));
  setText("p-focus", String(d.focusLosses));
  setText("p-pause-reason", row.pause_reason || "");
  optional("pause", row.status === "paused" ? row.pause_reason || "—" : "");
  const score = row.score != null ? `${t("score", { score: row.score })} · ${row.passed ? t("passed") : t("failed")}` : "";
  setText("p-score", score);
  optional("score", score);
  $("p-verify-hint").hidden = !(CAN_ACT && applies("verify", row, config.start_mode));
  for (const button of document.querySelectorAll("#panel-actions button[data-action]")) {
    button.hidden = !applies(button.dataset.action, row, config.start_mode);
  }
  renderPendingList($("p-pending"), (item) => item.attempt_id === row.attempt_id);
}

function tickPanel() {
  const entry = state.selected != null ? room.get(state.selected) : null;
  if (!entry) return;
  const d = describeClock(entry, view);
  setText("p-remaining", d.time);
  setText("p-online", d.connection || "—");
}

// ----------------------------------------------------------------------------- pending expulsions
function showPending() {
  const marked = pending.attempts();
  for (const entry of room.entries.values()) {
    const on = marked.has(entry.row.attempt_id);
    seatMap.setPending(entry.id, on);
    table.setPending(entry.id, on);
  }
  $("pending-card").hidden = pending.items.size === 0;
  renderPendingList($("pending-list"), () => true);
  if (state.selected != null) renderPendingList($("p-pending"), (item) => {
    const entry = room.get(state.selected);
    return entry && item.attempt_id === entry.row.attempt_id;
  });
}

function renderPendingList(list, keep) {
  const items = [...pending.items.values()].filter(keep);
  const nodes = items.map((item) => {
    const li = document.createElement("li");
    li.className = "pc-pending-item";
    li.dataset.incidentId = String(item.incident_id);
    const head = document.createElement("div");
    head.className = "pc-pending-who";
    head.textContent = who(room, t, item.attempt_id);
    const note = document.createElement("div");
    note.className = "pc-pending-note";
    note.textContent = item.note;
    const by = document.createElement("div");
    by.className = "muted pc-pending-by";
    by.textContent = t("pendingBy", { actor: item.actor || "—", time: view.timeOfDay(item.at) });
    li.append(head, note, by);
    if (item.actor && item.actor === config.me) {
      const mine = document.createElement("div");
      mine.className = "muted pc-pending-by";
      mine.textContent = t("pendingYours");
      li.append(mine);
    }
    // Any watcher may confirm (a patrol inspector too); the server decides who is a second staff member.
    const button = document.createElement("button");
    button.type = "button";
    button.className = "danger";
    button.dataset.action = "confirm_incident";
    button.dataset.incidentId = String(item.incident_id);
    button.textContent = t("action.confirm_incident");
    li.append(button);
    return li;
  });
  list.replaceChildren(...nodes);
}

// ----------------------------------------------------------------------------- actions
function targetOf(name, incidentId) {
  const spec = ACTIONS[name];
  if (spec.scope === "candidate") {
    const entry = room.get(state.selected);
    return entry ? { candidateId: entry.id, label: who(room, t, entry.row.attempt_id) } : null;
  }
  if (spec.scope === "incident") {
    const item = pending.items.get(incidentId);
    const label = item ? `${who(room, t, item.attempt_id)} — ${item.note}` : "";
    return { incidentId, label };
  }
  if (spec.scope === "all") return { label: t("target.all") };
  return { label: state.session ? state.session.name : "" };
}

/** Send an action; a success flashes briefly, a refusal shows the server's message. */
async function runAction(name, target, fields) {
  const spec = ACTIONS[name];
  const ack = await send(socket, spec.event, payloadFor(name, SESSION_ID, target, fields || {}), t);
  if (ack.ok) toast(doneText(name, ack), "ok");
  return ack;
}

function doneText(name, ack) {
  if (name === "force_submit" && ack.already) return t("done.force_submit_already");
  if (name === "start_room") return t("done.start_room", { n: ack.started ?? 0 });
  if (name === "close_session") return t("done.close_session", { submitted: ack.submitted ?? 0, absent: ack.absent ?? 0 });
  return t(`done.${name}`);
}

async function onActionClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button || button.disabled) return;
  const name = button.dataset.action;
  const spec = ACTIONS[name];
  if (!spec) return;
  const incidentId = button.dataset.incidentId ? Number(button.dataset.incidentId) : undefined;
  const target = targetOf(name, incidentId);
  if (!target) return;
  if (!spec.direct) {
    dialog.open(name, target);
    return;
  }
  button.disabled = true;
  const ack = await runAction(name, target, {});
  button.disabled = false;
  if (!ack.ok) toast(errorText(ack, t), "bad", ack.error && ack.error.code);
}

function toast(text, kind, code) {
  const node = $("toast");
  node.textContent = text;
  node.dataset.kind = kind;
  if (code) node.dataset.code = code;
  else delete node.dataset.code;
  node.hidden = false;
  if (state.toastTimer) clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => {
    node.hidden = true;
  }, kind === "ok" ? 3000 : 8000);
}

// ----------------------------------------------------------------------------- view switch
function showView(name) {
  const mode = name === "table" ? "table" : "map";
  $("seat-map").hidden = mode !== "map";
  $("roster-wrap").hidden = mode !== "table";
  for (const button of document.querySelectorAll("button[data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === mode));
  }
  try {
    localStorage.setItem(VIEW_KEY, mode);
  } catch (err) {
    // Storage refused (private mode): the choice lasts for this page only.
  }
}

function savedView() {
  try {
    return localStorage.getItem(VIEW_KEY);
  } catch (err) {
    return null;
  }
}

// ----------------------------------------------------------------------------- start
for (const button of document.querySelectorAll("button[data-view]")) {
  button.addEventListener("click", () => showView(button.dataset.view));
}
$("panel-close").addEventListener("click", () => select(null));
document.addEventListener("click", (event) => {
  if (event.target.closest("#room-actions, #panel-actions, .pc-pending-list")) onActionClick(event);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("action-dialog").open && state.selected != null) select(null);
});

// The local countdown: each running candidate's clock moves on between the server's deltas.
setInterval(() => {
  for (const entry of room.entries.values()) {
    if (entry.running) {
      seatMap.tick(entry);
      table.tick(entry);
    }
  }
  tickPanel();
}, 1000);

showView(savedView() || "map");
setConnection("connecting");
