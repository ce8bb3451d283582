// Text helpers of the proctor console: translated strings, clocks and times of day.

/** Return t(key, vars): the page's translated string with {name} placeholders filled in. */
export function translator(strings) {
  return (key, vars) => {
    let text = Object.prototype.hasOwnProperty.call(strings, key) ? String(strings[key]) : key;
    if (vars) {
      for (const [name, value] of Object.entries(vars)) text = text.split(`{${name}}`).join(String(value));
    }
    return text;
  };
}

const pad = (n) => String(n).padStart(2, "0");

/** A remaining time as m:ss, or h:mm:ss from one hour on. */
export function formatClock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

/** Return a formatter of ISO instants with ``options``, in the exam point's time zone. */
function instants(locale, timeZone, options) {
  let format;
  try {
    format = new Intl.DateTimeFormat(locale, { ...options, timeZone });
  } catch (err) {
    format = new Intl.DateTimeFormat(locale, options); // an unknown zone: the browser's own
  }
  return (iso) => {
    if (!iso) return "—";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "—" : format.format(date);
  };
}

/** Times of day (hh:mm:ss), for the log and last activity. */
export function timeOfDay(locale, timeZone) {
  return instants(locale, timeZone, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

/** Day and time (MM-DD hh:mm), for the session's opening, start and close. */
export function dateTime(locale, timeZone) {
  return instants(locale, timeZone, {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
}
