// The room as the console knows it: one roster row per candidate, kept up to date by the
// server's snapshot and deltas, with a local countdown between deltas.

/** Statuses whose clock runs (the server's `remaining_ms` counts down between deltas). */
export const RUNNING = new Set(["answering", "offline"]);
/** Statuses with nothing left to do for the candidate. */
export const FINISHED = new Set(["submitted", "absent", "expelled"]);
/** Sorting by status puts what needs the proctor's attention first. */
export const STATUS_ORDER = [
  "offline", "paused", "logged_in", "verified", "answering", "not_arrived", "submitted", "expelled", "absent",
];

/** One candidate: the last row the server sent and when it arrived (performance.now()). */
export class Entry {
  constructor(row, receivedAt) {
    this.row = row;
    this.receivedAt = receivedAt;
  }

  get id() {
    return this.row.candidate_id;
  }

  get running() {
    return RUNNING.has(this.row.status);
  }

  /** The time left now: counted down locally while running, frozen otherwise. */
  remainingMs(now) {
    const base = Number(this.row.remaining_ms) || 0;
    return this.running ? Math.max(0, base - (now - this.receivedAt)) : base;
  }
}

export class Room {
  constructor() {
    this.entries = new Map(); // candidate_id -> Entry
    this.byAttempt = new Map(); // attempt_id -> candidate_id
    this.statusCounts = new Map();
  }

  /** Forget everything (before a fresh snapshot). */
  clear() {
    this.entries.clear();
    this.byAttempt.clear();
    this.statusCounts.clear();
  }

  /** Store a row (snapshot or delta); returns {entry, previous} or null for a stale delta. */
  put(row, receivedAt) {
    if (!row || typeof row.candidate_id !== "number") return null;
    const old = this.entries.get(row.candidate_id);
    // Rows computed earlier than the one shown lose (only when the server dates its rows).
    if (old && row.as_of && old.row.as_of && row.as_of < old.row.as_of) return null;
    if (old) this._count(old.row.status, -1);
    const entry = new Entry(row, receivedAt);
    this.entries.set(row.candidate_id, entry);
    if (row.attempt_id != null) this.byAttempt.set(row.attempt_id, row.candidate_id);
    this._count(row.status, +1);
    return { entry, previous: old ? old.row : null };
  }

  get(candidateId) {
    return this.entries.get(candidateId);
  }

  byAttemptId(attemptId) {
    const id = this.byAttempt.get(attemptId);
    return id == null ? undefined : this.entries.get(id);
  }

  /** The counters of the room, as the server's `counters` computes them. */
  counters() {
    const n = (status) => this.statusCounts.get(status) || 0;
    const total = this.entries.size;
    return {
      total,
      present: total - n("not_arrived") - n("absent"),
      answering: n("answering"),
      submitted: n("submitted") + n("expelled"),
      offline: n("offline"),
      absent: n("absent"),
      paused: n("paused"),
    };
  }

  _count(status, delta) {
    this.statusCounts.set(status, (this.statusCounts.get(status) || 0) + delta);
  }
}

/** Compare two entries for a sort key ("seat" or "status"); ties fall back to the seat. */
export function compareEntries(key, a, b) {
  const bySeat = (a.row.seat || 0) - (b.row.seat || 0) || a.id - b.id;
  if (key === "status") {
    const rank = (e) => {
      const i = STATUS_ORDER.indexOf(e.row.status);
      return i < 0 ? STATUS_ORDER.length : i;
    };
    return rank(a) - rank(b) || bySeat;
  }
  return bySeat;
}
