// The outbox: every answer and flag change, kept in memory and in localStorage until the server
// acknowledges it (the ack means "committed"). Changes carry a sequence number that grows per
// attempt and survives a reload; the server applies them idempotently and never lets an older
// number overwrite a newer change, so re-sending is always safe.

import { local } from "./store.js";

// Ack errors after which an entry is dropped: re-sending could never succeed.
const DROP = new Set([
  "stale_seq",
  "not_running",
  "deadline_passed",
  "bad_payload",
  "unknown_question",
  "bad_choice",
]);
// Quiet drops: the change is superseded, nothing for the candidate to know.
const QUIET = new Set(["stale_seq"]);
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];

export class Outbox {
  /**
   * send(entry) -> Promise of the ack ({ok, seq} or {ok: false, error}); rejects on timeout.
   * onChange() is called whenever the pending entries change; onDrop(entry, error) when an entry
   * is given up for a reason the candidate should see.
   */
  constructor(attemptId, { send, onChange, onDrop }) {
    this.attemptId = attemptId;
    this.key = `exam.outbox.${attemptId}`;
    this.send = send;
    this.onChange = onChange || (() => {});
    this.onDrop = onDrop || (() => {});
    const stored = local.get(this.key);
    this.lastSeq = stored && Number.isSafeInteger(stored.seq) ? stored.seq : 0;
    this.entries = stored && Array.isArray(stored.entries) ? stored.entries.filter(valid) : [];
    this.entries.sort((a, b) => a.seq - b.seq);
    this.online = false;
    this.inflight = null;
    this.generation = 0;
    this.failures = 0;
    this.retryTimer = null;
    this.waiters = [];
  }

  /** Never reuse a number the server has seen: continue after the larger of both. */
  syncSeq(serverLastSeq) {
    if (Number.isSafeInteger(serverLastSeq) && serverLastSeq > this.lastSeq) {
      this.lastSeq = serverLastSeq;
      this.persist();
    }
  }

  /** Queue a change: {event: "answer", choice} or {event: "flag", flagged}. */
  push(event, questionId, value) {
    this.lastSeq += 1;
    const entry = { event, question_id: questionId, seq: this.lastSeq, ...value };
    // A queued (not yet sent) change of the same kind to the same question is superseded.
    this.entries = this.entries.filter(
      (e) => e === this.inflight || e.event !== event || e.question_id !== questionId,
    );
    this.entries.push(entry);
    this.persist();
    this.onChange();
    this.pump();
    return entry;
  }

  get size() {
    return this.entries.length;
  }

  /** The pending changes, oldest first (to lay over the server's state). */
  pending() {
    return this.entries.slice();
  }

  pendingQuestionIds() {
    return new Set(this.entries.map((e) => e.question_id));
  }

  setOnline(online) {
    this.online = online;
    if (!online) {
      // Whatever was in flight is sent again after the reconnect; a late ack of the old
      // connection is ignored (the generation moved on).
      this.generation += 1;
      this.inflight = null;
      this.clearRetry();
    } else {
      this.failures = 0;
      this.clearRetry();
      this.pump();
    }
  }

  clearRetry() {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  pump() {
    if (!this.online || this.inflight || this.retryTimer !== null || !this.entries.length) return;
    const entry = this.entries[0];
    const generation = this.generation;
    this.inflight = entry;
    let sent;
    try {
      sent = Promise.resolve(this.send(entry));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (ack) => this.acked(entry, generation, ack),
      () => this.failed(entry, generation),
    );
  }

  acked(entry, generation, ack) {
    if (generation !== this.generation) return;
    this.inflight = null;
    if (ack && ack.ok) {
      this.failures = 0;
      this.remove(entry);
    } else {
      const error = (ack && ack.error) || { code: "server_error", message: "" };
      if (DROP.has(error.code)) {
        this.remove(entry);
        if (!QUIET.has(error.code)) this.onDrop(entry, error);
      } else {
        this.failed(entry, generation);
        return;
      }
    }
    this.pump();
  }

  failed(entry, generation) {
    if (generation !== this.generation) return;
    this.inflight = null;
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, delay);
    this.onChange();
  }

  remove(entry) {
    this.entries = this.entries.filter((e) => e !== entry);
    this.persist();
    this.onChange();
    if (!this.entries.length) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve(true));
    }
  }

  /** Resolve true once every change is acknowledged, false after ``timeoutMs``. */
  whenEmpty(timeoutMs) {
    if (!this.entries.length) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      this.waiters.push(done);
    });
  }

  persist() {
    local.set(this.key, { seq: this.lastSeq, entries: this.entries });
  }

  /** Forget this attempt's changes (after the paper was handed in). */
  clear() {
    this.generation += 1;
    this.entries = [];
    this.inflight = null;
    this.clearRetry();
    local.remove(this.key);
    this.onChange();
  }
}

function valid(entry) {
  if (!entry || !Number.isSafeInteger(entry.seq) || !Number.isSafeInteger(entry.question_id)) {
    return false;
  }
  if (entry.event === "answer") {
    return Array.isArray(entry.choice) && entry.choice.every((k) => typeof k === "string");
  }
  return entry.event === "flag" && typeof entry.flagged === "boolean";
}
