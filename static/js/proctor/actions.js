// The proctors' actions: what each sends over `/proctor`, the dialog that asks for a reason or a
// confirmation, and when a candidate's action applies. The server checks every action again.

import { FINISHED } from "./room.js";

const ACK_TIMEOUT_MS = 10000;

/**
 * Each action: the event it emits, whom it targets ("candidate", "all" = candidate_id null,
 * "incident", "room"), the fields its dialog asks for, and whether it warns before it acts.
 * `direct` actions are sent at once, without a dialog.
 */
export const ACTIONS = {
  verify: { event: "verify", scope: "candidate", fields: [], direct: true },
  mark_absent: { event: "mark_absent", scope: "candidate", fields: [], warn: true },
  pause: { event: "pause", scope: "candidate", fields: ["reason"] },
  resume: { event: "resume", scope: "candidate", fields: [], direct: true },
  extend: { event: "extend", scope: "candidate", fields: ["minutes", "reason"] },
  force_submit: { event: "force_submit", scope: "candidate", fields: ["reason"], warn: true, danger: true },
  release_terminal: { event: "release_terminal", scope: "candidate", fields: ["reason"], warn: true, danger: true },
  incident: { event: "incident", scope: "candidate", fields: ["kind", "note"] },
  confirm_incident: { event: "confirm_incident", scope: "incident", fields: [], warn: true, danger: true },
  start_room: { event: "start_room", scope: "room", fields: [], warn: true },
  pause_all: { event: "pause", scope: "all", fields: ["reason"] },
  resume_all: { event: "resume", scope: "all", fields: [], warn: true },
  extend_all: { event: "extend", scope: "all", fields: ["minutes", "reason"] },
  announce: { event: "announce", scope: "room", fields: ["text"] },
  close_session: { event: "close_session", scope: "room", fields: [], warn: true, danger: true },
};

const STARTED = new Set(["answering", "offline", "paused"]);
const SIGNED_IN = new Set(["logged_in", "verified", ...STARTED]);

/**
 * Whether a candidate's action applies to a row (the others are hidden in the side panel).
 * In a proctor-mode room only verified candidates start, so a started one needs no verifying;
 * in a window-mode room candidates start by themselves and are verified at their seat.
 */
export function applies(action, row, startMode) {
  const s = row.status;
  switch (action) {
    case "verify":
      if (row.verified_at) return false;
      return s === "not_arrived" || s === "logged_in" || (startMode !== "proctor" && STARTED.has(s));
    case "mark_absent":
      return s === "not_arrived" || s === "logged_in" || s === "verified";
    case "pause":
      return s === "answering" || s === "offline";
    case "resume":
      return s === "paused";
    case "extend":
      return !FINISHED.has(s);
    case "force_submit":
      return STARTED.has(s);
    case "release_terminal":
      return SIGNED_IN.has(s);
    case "incident":
      return s !== "absent" && s !== "expelled";
    default:
      return false;
  }
}

/** Send one event and resolve with its ack ({ok, ...} or {ok: false, error: {code, message}}). */
export function send(socket, event, payload, t) {
  return new Promise((resolve) => {
    if (!socket.connected) {
      resolve({ ok: false, error: { code: "not_connected", message: t("notConnectedAct") } });
      return;
    }
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
      if (err || !ack || typeof ack !== "object") {
        resolve({ ok: false, error: { code: "timeout", message: t("ackTimeout") } });
      } else {
        resolve(ack);
      }
    });
  });
}

/** The message of a refused action, as the server wrote it in the console's language. */
export function errorText(ack, t) {
  return (ack && ack.error && (ack.error.message || ack.error.code)) || t("ackTimeout");
}

/** The dialog that asks for the fields of one action and sends it. */
export class ActionDialog {
  constructor(dialog, t, run) {
    this.dialog = dialog;
    this.t = t;
    this.run = run; // (name, target, fields) -> Promise<ack>
    this.form = dialog.querySelector("form");
    this.title = dialog.querySelector("#action-title");
    this.target = dialog.querySelector("#action-target");
    this.warning = dialog.querySelector("#action-warning");
    this.error = dialog.querySelector("#action-error");
    this.submit = dialog.querySelector("#action-submit");
    this.current = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._send();
    });
    this.form.addEventListener("change", (event) => {
      if (event.target.name === "kind") this.onKindChange();
    });
    dialog.querySelector("#action-cancel").addEventListener("click", () => this.close());
    dialog.addEventListener("close", () => {
      this.current = null;
    });
  }

  /** Open the dialog for ``name``; ``target`` = {candidateId?, incidentId?, label}. */
  open(name, target) {
    const spec = ACTIONS[name];
    this.current = { name, target };
    this.form.reset();
    for (const block of this.form.querySelectorAll("[data-field]")) {
      block.hidden = !spec.fields.includes(block.dataset.field);
    }
    this.title.textContent = this.t(`action.${name}`);
    this.target.textContent = target.label || "";
    const warnKey = `warn.${name}`;
    const warning = spec.warn ? this.t(warnKey) : "";
    this.warning.textContent = warning;
    this.warning.hidden = !warning;
    this._setError("");
    this.submit.textContent = this.t(`action.${name}`);
    this.submit.className = spec.danger ? "danger" : "primary";
    this.submit.disabled = false;
    this.dialog.dataset.action = name;
    this.dialog.showModal();
    const first = this.form.querySelector("[data-field]:not([hidden]) textarea, [data-field]:not([hidden]) input");
    (first || this.submit).focus();
  }

  close() {
    this.current = null;
    if (this.dialog.open) this.dialog.close();
  }

  /** Show the expulsion warning while "expulsion" is chosen. */
  onKindChange() {
    if (!this.current || this.current.name !== "incident") return;
    const expulsion = this.form.elements.kind.value === "expulsion";
    this.warning.textContent = expulsion ? this.t("warn.expulsion") : "";
    this.warning.hidden = !expulsion;
  }

  _fields() {
    const elements = this.form.elements;
    const raw = Number(elements.minutes.value);
    return {
      reason: elements.reason.value,
      note: elements.note.value,
      text: elements.text.value,
      kind: elements.kind.value,
      // Not a whole number: 0, so that the server answers its "1 to 120 minutes" message.
      minutes: Number.isInteger(raw) ? raw : 0,
    };
  }

  async _send() {
    if (!this.current || this.submit.disabled) return;
    const { name, target } = this.current;
    this.submit.disabled = true;
    this._setError("");
    const ack = await this.run(name, target, this._fields());
    this.submit.disabled = false;
    if (!this.current || this.current.name !== name) return; // closed meanwhile
    if (ack.ok) this.close();
    else this._setError(errorText(ack, this.t), ack.error && ack.error.code);
  }

  _setError(text, code) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
    if (code) this.error.dataset.code = code;
    else delete this.error.dataset.code;
  }
}

/** Build the payload of an action for the session, its target and the dialog's fields. */
export function payloadFor(name, sessionId, target, fields) {
  const spec = ACTIONS[name];
  const payload = { session_id: sessionId };
  if (spec.scope === "candidate") payload.candidate_id = target.candidateId;
  if (spec.scope === "all") payload.candidate_id = null;
  if (spec.scope === "incident") payload.incident_id = target.incidentId;
  for (const field of spec.fields) payload[field] = fields[field];
  return payload;
}
