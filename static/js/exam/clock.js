// The countdown shows the SERVER's remaining time. Each `state` and `tick` says how much time was
// left when the server sent it; the terminal notes when the message arrived on its monotonic
// clock (performance.now()), subtracts the one-way latency (half the smallest recent round trip)
// and counts down from there. The terminal's wall clock (Date) is never used: a wrong clock on
// the terminal changes nothing.

const RTT_SAMPLES = 8;

export class Countdown {
  constructor() {
    this.deadline = null; // performance.now() value at which the time runs out
    this.frozen = null; // remaining ms while the clock is stopped (waiting, paused)
    this.rtts = [];
  }

  /** Record one measured round trip in ms. */
  noteRtt(ms) {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.rtts.push(ms);
    if (this.rtts.length > RTT_SAMPLES) this.rtts.shift();
  }

  /** The estimated one-way latency from the server, in ms. */
  get oneWayMs() {
    return this.rtts.length ? Math.min(...this.rtts) / 2 : 0;
  }

  /** Re-sync from the server: ``remainingMs`` when sent, ``arrivedAt`` the local arrival. */
  sync(remainingMs, running, arrivedAt = performance.now()) {
    const remaining = Math.max(0, Number(remainingMs) || 0);
    if (running) {
      this.deadline = arrivedAt + Math.max(0, remaining - this.oneWayMs);
      this.frozen = null;
    } else {
      this.deadline = null;
      this.frozen = remaining;
    }
  }

  get running() {
    return this.deadline !== null;
  }

  /** Freeze the countdown where it is (the server paused the attempt). */
  freeze() {
    if (this.deadline !== null) {
      this.frozen = this.remainingMs();
      this.deadline = null;
    }
  }

  remainingMs() {
    if (this.deadline !== null) return Math.max(0, this.deadline - performance.now());
    return this.frozen === null ? 0 : this.frozen;
  }
}

/** Format milliseconds as M:SS or H:MM:SS, rounding up (0:00 only when the time is over). */
export function formatClock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, "0");
  if (hours) return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
  return `${String(minutes).padStart(2, "0")}:${ss}`;
}
