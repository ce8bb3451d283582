// The room's live log (newest first) and the expulsions that wait for a second staff member.

const MAX_SHOWN = 500;
/** Kinds a proctor should notice at once. */
const ALERT = new Set(["disconnect", "focus_lost", "incident", "expel", "release_terminal", "force_submit"]);
/** What a candidate's terminal did, as opposed to a staff member. */
const TERMINAL = new Set(["login", "connect", "moved", "disconnect", "focus_lost", "focus_back", "submit"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

/** The candidate an event is about, as "seat · name" (or "" for room-wide events). */
export function who(room, t, attemptId) {
  if (attemptId == null) return "";
  const entry = room.byAttemptId(attemptId);
  if (!entry) return "";
  const seat = entry.row.seat ? t("seat", { n: entry.row.seat }) : t("noSeat");
  return `${seat} · ${entry.row.name || ""}`;
}

export class EventLog {
  constructor(list, empty, view, room) {
    this.list = list;
    this.empty = empty;
    this.view = view;
    this.room = room;
    this.seen = new Set();
  }

  /** Show the snapshot's events (oldest first, as the server sends them). */
  reset(events) {
    this.seen.clear();
    const fragment = document.createDocumentFragment();
    const shown = events.slice(-MAX_SHOWN);
    for (let i = shown.length - 1; i >= 0; i -= 1) {
      if (this.seen.has(shown[i].id)) continue;
      this.seen.add(shown[i].id);
      fragment.append(this._item(shown[i]));
    }
    this.list.replaceChildren(fragment);
    this.empty.hidden = this.list.childElementCount > 0;
  }

  /** Add one pushed event in its place (newest first, by id); one already shown is ignored.
   * Terminals' events reach the console in coalesced rounds (up to 0.15 s late) while staff
   * actions are pushed at once, so an event may arrive after a newer one. */
  add(event) {
    if (!event || this.seen.has(event.id)) return false;
    this.seen.add(event.id);
    const item = this._item(event);
    let before = this.list.firstElementChild;
    while (before && Number(before.dataset.eventId) > event.id) before = before.nextElementSibling;
    this.list.insertBefore(item, before);
    while (this.list.childElementCount > MAX_SHOWN) this.list.lastElementChild.remove();
    this.empty.hidden = true;
    return true;
  }

  _item(event) {
    const { t, timeOfDay } = this.view;
    const detail = event.detail || {};
    const li = el("li", "pc-ev");
    li.dataset.kind = event.kind;
    li.dataset.eventId = String(event.id);
    if (event.attempt_id != null) li.dataset.attemptId = String(event.attempt_id);
    if (ALERT.has(event.kind)) li.classList.add("alert");
    li.classList.add(TERMINAL.has(event.kind) ? "by-terminal" : "by-staff");
    const head = el("div", "pc-ev-head");
    const time = el("time", "pc-ev-time", timeOfDay(event.at));
    if (event.at) time.dateTime = event.at;
    head.append(time, el("span", "pc-ev-kind", t(`kind.${event.kind}`)));
    const candidate = who(this.room, t, event.attempt_id);
    if (candidate) head.append(el("span", "pc-ev-who", candidate));
    li.append(head);
    const extra = describeDetail(event, detail, t);
    const body = [extra, event.reason].filter(Boolean);
    if (body.length) li.append(el("div", "pc-ev-reason", body.join(" — ")));
    if (event.actor) li.append(el("div", "pc-ev-actor", event.actor));
    return li;
  }
}

function describeDetail(event, detail, t) {
  switch (event.kind) {
    case "extend":
      return detail.minutes ? t("minutesPlus", { n: detail.minutes }) : "";
    case "incident": {
      const kind = detail.incident_kind === "expulsion" ? t("incident.expulsion") : t("incident.warning");
      return kind;
    }
    case "start_room":
      return detail.started != null ? t("detail.started", { n: detail.started }) : "";
    case "close_session":
      return t("detail.closed", { submitted: detail.submitted ?? 0, absent: detail.absent ?? 0 });
    case "submit":
      return detail.score != null ? t("detail.score", { score: detail.score }) : "";
    default:
      return "";
  }
}

/** Expulsions recorded and not yet confirmed, rebuilt from the log's `incident` / `expel` events. */
export class PendingExpulsions {
  constructor() {
    this.items = new Map(); // incident_id -> {incident_id, attempt_id, note, actor, at}
  }

  reset(events) {
    this.items.clear();
    for (const event of events) this.apply(event);
  }

  /** Take one event into account; returns true when the list changed. */
  apply(event) {
    const detail = (event && event.detail) || {};
    if (event.kind === "incident" && detail.pending && detail.incident_id != null) {
      this.items.set(detail.incident_id, {
        incident_id: detail.incident_id,
        attempt_id: event.attempt_id,
        note: event.reason || "",
        actor: event.actor || "",
        at: event.at,
      });
      return true;
    }
    if (event.kind === "expel" && detail.incident_id != null) {
      return this.items.delete(detail.incident_id);
    }
    return false;
  }

  /** The attempts with an expulsion waiting. */
  attempts() {
    return new Set([...this.items.values()].map((item) => item.attempt_id));
  }
}
