// localStorage and sessionStorage that never throw: a full or disabled storage must not stop an
// exam; the in-memory copy keeps working and the server still has every acknowledged answer.

function area(name) {
  try {
    const storage = window[name];
    const probe = "__exam_probe__";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch (err) {
    return null;
  }
}

function wrap(storage) {
  return {
    get(key) {
      if (!storage) return null;
      try {
        const raw = storage.getItem(key);
        return raw === null ? null : JSON.parse(raw);
      } catch (err) {
        return null;
      }
    },
    set(key, value) {
      if (!storage) return false;
      try {
        storage.setItem(key, JSON.stringify(value));
        return true;
      } catch (err) {
        return false;
      }
    },
    remove(key) {
      if (!storage) return;
      try {
        storage.removeItem(key);
      } catch (err) {
        /* nothing to do */
      }
    },
  };
}

export const local = wrap(area("localStorage"));
export const session = wrap(area("sessionStorage"));

const TERMINAL_KEY = "exam.terminal";
const TERMINAL_RE = /^[A-Za-z0-9_-]{8,64}$/;

/** This terminal's id: made once, kept in localStorage (the same browser is the same terminal). */
export function terminalId() {
  const stored = local.get(TERMINAL_KEY);
  if (typeof stored === "string" && TERMINAL_RE.test(stored)) return stored;
  let id;
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    id = window.crypto.randomUUID().replace(/-/g, "");
  } else {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  id = "t-" + id;
  local.set(TERMINAL_KEY, id);
  return id;
}
