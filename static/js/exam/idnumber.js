// Resident ID numbers (GB 11643): the same check as examserver/identity.py, for an early,
// friendly message. The server checks again; this one only saves a round trip.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = "10X98765432";
const SHAPE = /^[0-9]{17}[0-9X]$/;

/** Return the ID number as the server stores it: trimmed, upper-case check character. */
export function normalizeIdNumber(value) {
  return String(value || "").trim().toUpperCase();
}

/** Return the check character (0-9 or X) of the first 17 digits. */
export function checkDigit(first17) {
  let total = 0;
  for (let i = 0; i < 17; i += 1) total += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[total % 11];
}

function realBirthDate(id) {
  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  if (year < 1800 || month < 1 || month > 12 || day < 1) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Return "" for a valid ID number, "length" when its shape is wrong, "check" otherwise. */
export function idNumberProblem(value) {
  const id = normalizeIdNumber(value);
  if (!SHAPE.test(id)) return "length";
  if (!realBirthDate(id) || checkDigit(id.slice(0, 17)) !== id[17]) return "check";
  return "";
}
