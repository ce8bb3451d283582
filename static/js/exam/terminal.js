// The candidate terminal: sign-in, details check, the exam, the result.
// Talks to the server through POST /api/exam/login and the /exam Socket.IO namespace
// (docs/protocol.md, "Candidate terminal"). The server is the authority for everything: the
// clock, the paper, what is saved. This page keeps the candidate's unacknowledged changes in an
// outbox (localStorage) so nothing is lost while the connection is down.

import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";
import { Countdown, formatClock } from "./clock.js";
import { idNumberProblem, normalizeIdNumber } from "./idnumber.js";
import { Outbox } from "./outbox.js";
import { flattenPaper, paperKey, renderGrid, renderQuestion, showChoice } from "./paper.js";
import { local, session, terminalId } from "./store.js";

const T = JSON.parse(document.getElementById("i18n").textContent);
const LOGIN_KEY = "exam.login";
const FONT_KEY = "exam.fontSize";
const ADMISSION_RE = /^[A-Za-z0-9_-]{1,32}$/;
const ACK_TIMEOUT_MS = 10000;
const SUBMIT_TIMEOUT_MS = 20000;
const DRAIN_TIMEOUT_MS = 15000;
const WARN_AT_MS = 5 * 60 * 1000;
const RTT_EVERY_MS = 30000;
// A connection closed by the server is re-opened at once unless that happened very recently:
// two windows of one terminal must not take the exam from each other in a loop.
const KICK_QUIET_MS = 30000;

const $ = (id) => document.getElementById(id);

/** A translated string from the page, with {name} placeholders filled in. */
function t(key, vars) {
  let text = Object.prototype.hasOwnProperty.call(T, key) ? String(T[key]) : key;
  if (vars) {
    for (const [name, value] of Object.entries(vars)) text = text.split(`{${name}}`).join(String(value));
  }
  return text;
}

const app = {
  login: null, // the login answer: {token, attempt_id, candidate, session, confirmed}
  socket: null,
  screen: "loading",
  status: null, // the attempt's status as last told by the server
  attempt: null,
  sections: [],
  questions: [],
  paperKey: "",
  cells: [],
  inputs: [],
  answers: new Map(), // question id -> keys (server state with pending changes on top)
  flags: new Set(),
  current: 0,
  positionSent: null,
  outbox: null,
  clock: new Countdown(),
  connected: false,
  everConnected: false,
  wasOffline: false,
  warned: false,
  submitting: false,
  timeUpShown: false,
  rttTimer: null,
  infoTimer: null,
  lastKick: -Infinity,
  focusLost: false,
};

// ----------------------------------------------------------------------------- screens
const SCREENS = ["loading", "login", "details", "exam", "result"];

function showScreen(name) {
  app.screen = name;
  for (const screen of SCREENS) $(`screen-${screen}`).hidden = screen !== name;
  const signedIn = name === "details" || name === "exam" || name === "result";
  $("bar-who").hidden = !signedIn;
  $("bar-clock").hidden = name !== "exam";
  $("bar-save").hidden = name !== "exam";
  $("lang-switch").hidden = signedIn;
  if (name !== "exam") $("paused-overlay").hidden = true;
  if (name === "login") {
    $("banner-offline").hidden = true;
    setTimeout(() => $("admission-no").focus(), 0);
  }
}

function showInfo(text, ms = 8000) {
  const banner = $("banner-info");
  banner.textContent = text;
  banner.hidden = false;
  if (app.infoTimer) clearTimeout(app.infoTimer);
  app.infoTimer = ms ? setTimeout(() => { banner.hidden = true; }, ms) : null;
}

function setError(id, text) {
  const node = $(id);
  node.textContent = text || "";
  node.hidden = !text;
}

// ----------------------------------------------------------------------------- sign-in
function validateLogin(admission, idNumber) {
  if (!admission) return ["admission-no", t("admissionMissing")];
  if (!ADMISSION_RE.test(admission)) return ["admission-no", t("admissionBad")];
  const problem = idNumberProblem(idNumber);
  if (problem === "length") return ["id-number", t("idLength")];
  if (problem) return ["id-number", t("idCheck")];
  return null;
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const admission = $("admission-no").value.trim();
  const idNumber = normalizeIdNumber($("id-number").value);
  const problem = validateLogin(admission, idNumber);
  if (problem) {
    setError("login-error", problem[1]);
    $(problem[0]).focus();
    return;
  }
  setError("login-error", "");
  const button = $("login-button");
  const label = button.textContent;
  button.disabled = true;
  button.textContent = t("signingIn");
  try {
    let response;
    try {
      response = await fetch("/api/exam/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ admission_no: admission, id_number: idNumber, terminal: terminalId() }),
      });
    } catch (err) {
      setError("login-error", t("networkLogin"));
      return;
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok || !body || typeof body.token !== "string") {
      const message = body && body.error && body.error.message;
      setError("login-error", message || t("networkLogin"));
      return;
    }
    app.login = { ...body, confirmed: false };
    session.set(LOGIN_KEY, app.login);
    $("id-number").value = "";
    showDetails();
    connect();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

function signOut(message) {
  if (app.socket) {
    app.socket.off();
    app.socket.disconnect();
    app.socket = null;
  }
  if (app.rttTimer) clearInterval(app.rttTimer);
  app.rttTimer = null;
  session.remove(LOGIN_KEY);
  app.login = null;
  app.outbox = null;
  app.status = null;
  app.attempt = null;
  app.paperKey = "";
  app.questions = [];
  app.answers = new Map();
  app.flags = new Set();
  app.connected = false;
  app.everConnected = false;
  app.warned = false;
  app.timeUpShown = false;
  app.positionSent = null;
  app.focusLost = false;
  $("replaced-overlay").hidden = true;
  $("banner-info").hidden = true;
  $("announce").hidden = true;
  if ($("submit-dialog").open) $("submit-dialog").close();
  setError("login-error", message || "");
  showScreen("login");
}

// ----------------------------------------------------------------------------- details
function fillDetails() {
  const c = (app.login && app.login.candidate) || {};
  const s = (app.login && app.login.session) || {};
  $("d-name").textContent = c.name || "";
  $("d-id").textContent = c.id_number || "";
  $("d-admission").textContent = c.admission_no || "";
  $("d-job").textContent = c.job_type || t("noneYet");
  $("d-employer").textContent = c.employer || t("noneYet");
  $("d-session").textContent = s.name || "";
  const seat = c.seat ? t("seat", { n: c.seat }) : "";
  $("d-seat").textContent = [s.room, seat].filter(Boolean).join(" · ");
  const photo = $("photo");
  if (c.photo_url) {
    photo.src = c.photo_url;
    photo.hidden = false;
    $("photo-none").hidden = true;
  } else {
    photo.removeAttribute("src");
    photo.hidden = true;
    $("photo-none").hidden = false;
  }
  $("bar-name").textContent = c.name || "";
  $("bar-seat").textContent = [s.room, seat].filter(Boolean).join(" · ");
  $("result-name").textContent = c.name || "";
}

/** The details screen: what it offers depends on the attempt's status (null: not known yet). */
function showDetails() {
  fillDetails();
  const proctorMode = app.login && app.login.session && app.login.session.start_mode === "proctor";
  const status = app.status;
  const start = $("start-button");
  setError("details-error", "");
  if (status === "running" || status === "paused") {
    start.hidden = false;
    start.disabled = false;
    start.textContent = t("continueExam");
    $("details-note").textContent = t("runningAlready");
    $("waiting-box").hidden = true;
  } else if (proctorMode) {
    start.hidden = true;
    $("details-note").textContent = "";
    $("waiting-box").hidden = false;
  } else {
    start.hidden = false;
    start.disabled = status !== "waiting" || !app.connected;
    start.textContent = t("startExam");
    $("details-note").textContent = status === "waiting" ? t("waitingWindow") : t("connecting");
    $("waiting-box").hidden = true;
  }
  showScreen("details");
}

function confirmDetails() {
  app.login.confirmed = true;
  session.set(LOGIN_KEY, app.login);
}

async function onStart() {
  setError("details-error", "");
  if (app.status === "running" || app.status === "paused") {
    confirmDetails();
    showExam();
    return;
  }
  if (!app.socket || !app.connected) return;
  const button = $("start-button");
  button.disabled = true;
  button.textContent = t("starting");
  let ack;
  try {
    ack = await app.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("start", {});
  } catch (err) {
    ack = null;
  }
  button.textContent = t("startExam");
  if (ack && ack.ok) {
    confirmDetails();
    // The running state follows on the socket and opens the paper.
    if (app.status === "running" || app.status === "paused") showExam();
    return;
  }
  button.disabled = false;
  const error = ack && ack.error;
  if (error && error.code === "waiting_for_proctor") {
    button.hidden = true;
    $("details-note").textContent = "";
    $("waiting-box").hidden = false;
    return;
  }
  setError("details-error", (error && error.message) || t("networkLogin"));
}

// ----------------------------------------------------------------------------- socket
function connect() {
  if (app.socket) {
    app.socket.off();
    app.socket.disconnect();
  }
  const socket = io("/exam", {
    auth: { token: app.login.token, terminal: terminalId(), lang: T.lang },
    transports: ["websocket", "polling"],
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: 10000,
  });
  app.socket = socket;
  socket.on("connect", onConnect);
  socket.on("disconnect", onDisconnect);
  socket.on("connect_error", onConnectError);
  socket.on("state", onState);
  socket.on("tick", onTick);
  socket.on("announcement", onAnnouncement);
}

function onAnnouncement(data) {
  if (!data || typeof data.text !== "string" || !data.text.trim()) return;
  $("announce-text").textContent = data.text;
  $("announce").hidden = false;
  $("announce-ok").focus();
}

/** Tell the proctors when the exam window loses or regains the focus (counted, not judged). */
function reportFocus() {
  const lost = document.hidden || !document.hasFocus();
  if (lost === app.focusLost) return;
  if (!app.socket || !app.connected || app.screen !== "exam" || app.status !== "running") return;
  app.focusLost = lost;
  app.socket.timeout(ACK_TIMEOUT_MS).emit("focus", { lost }, () => {});
}

function onConnect() {
  app.connected = true;
  app.everConnected = true;
  $("banner-offline").hidden = true;
  $("replaced-overlay").hidden = true;
  if (app.wasOffline && app.screen === "exam") showInfo(t("reconnected"), 5000);
  app.wasOffline = false;
  measureRtt(3);
  if (app.rttTimer) clearInterval(app.rttTimer);
  app.rttTimer = setInterval(() => measureRtt(1), RTT_EVERY_MS);
  if (app.outbox) app.outbox.setOnline(true);
  sendPosition();
  updateSaveStatus();
  if (app.screen === "details") showDetails();
}

function onDisconnect(reason) {
  app.connected = false;
  if (app.rttTimer) clearInterval(app.rttTimer);
  app.rttTimer = null;
  if (app.outbox) app.outbox.setOnline(false);
  if (!app.login) return;
  if (reason === "io server disconnect") {
    // The server closed this connection: a proctor released this terminal (the token is
    // revoked: reconnecting leads back to the sign-in), or the same terminal opened the exam on
    // a newer connection (another window). Reconnect once; if it happens again at once, do not
    // fight over the exam: let the candidate choose.
    const now = performance.now();
    const recent = now - app.lastKick < KICK_QUIET_MS;
    app.lastKick = now;
    if (recent) {
      $("replaced-overlay").hidden = false;
    } else {
      app.socket.connect();
    }
    return;
  }
  app.wasOffline = true;
  showOffline();
  updateSaveStatus();
}

function showOffline() {
  const banner = $("banner-offline");
  banner.textContent = t("offline");
  banner.hidden = !(app.screen === "exam" || app.screen === "details");
  if (app.screen === "loading") $("loading-text").textContent = t("connecting");
}

function onConnectError(err) {
  const data = err && err.data;
  if (data && data.code) {
    // The server refused the connection: no automatic retry follows.
    if (data.code === "server_error") {
      setTimeout(() => { if (app.socket && !app.socket.connected) app.socket.connect(); }, 3000);
      return;
    }
    signOut(data.message || data.code);
    return;
  }
  app.connected = false;
  if (app.socket && !app.socket.active) {
    // Refused without a code: no automatic retry follows, so try again shortly.
    setTimeout(() => { if (app.socket && !app.socket.connected) app.socket.connect(); }, 3000);
  }
  if (app.login && app.everConnected) {
    app.wasOffline = true;
    showOffline();
  }
}

/** Measure round trips with an empty acknowledged message, to correct the clock for latency. */
async function measureRtt(times) {
  for (let i = 0; i < times; i += 1) {
    const socket = app.socket;
    if (!socket || !socket.connected) return;
    const sent = performance.now();
    try {
      await socket.timeout(3000).emitWithAck("rtt");
    } catch (err) {
      return;
    }
    app.clock.noteRtt(performance.now() - sent);
  }
}

function ensureOutbox(attemptId) {
  if (app.outbox && app.outbox.attemptId === attemptId) return;
  app.outbox = new Outbox(attemptId, {
    send: (entry) => {
      const payload = entry.event === "answer"
        ? { question_id: entry.question_id, choice: entry.choice, seq: entry.seq }
        : { question_id: entry.question_id, flagged: entry.flagged, seq: entry.seq };
      return app.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(entry.event, payload);
    },
    onChange: () => {
      updateSaveStatus();
      updateGrid();
    },
    onDrop: (entry, error) => showInfo(t("dropped", { message: error.message || error.code }), 10000),
  });
  app.outbox.setOnline(app.connected);
}

function onState(state) {
  const arrivedAt = performance.now();
  if (!state || !state.attempt || !app.login) return;
  const attempt = state.attempt;
  const previous = app.status;
  app.attempt = attempt;
  app.status = attempt.status;
  ensureOutbox(attempt.id);
  app.outbox.syncSeq(state.last_seq);
  if (attempt.status === "submitted") {
    app.outbox.clear();
    app.clock.sync(0, false);
    showResult(state.result);
    return;
  }
  app.clock.sync(attempt.remaining_ms, attempt.status === "running", arrivedAt);
  if (attempt.status === "waiting") {
    showDetails();
    return;
  }
  const fresh = loadPaper(state.paper);
  mergeState(state);
  if (fresh) {
    app.current = clampIndex(attempt.position);
    app.positionSent = app.current;
  }
  if (previous === "waiting" || app.login.confirmed) {
    // Started here (or by the proctor while the candidate waited here), or a reload: open it.
    confirmDetails();
    showExam();
  } else if (app.screen !== "exam") {
    showDetails(); // a new sign-in to a running exam: check the details, then continue
  } else {
    showExam();
  }
  if (attempt.position !== app.current) {
    app.positionSent = null; // the server has another question: tell it this one
    sendPosition();
  }
}

function onTick(data) {
  const arrivedAt = performance.now();
  if (!data || typeof data.remaining_ms !== "number") return;
  app.clock.sync(data.remaining_ms, app.status === "running", arrivedAt);
  renderClock();
}

// ----------------------------------------------------------------------------- the paper
function loadPaper(paper) {
  const { sections, questions } = flattenPaper(paper);
  const key = paperKey(questions);
  if (key === app.paperKey) return false;
  app.sections = sections;
  app.questions = questions;
  app.paperKey = key;
  app.cells = renderGrid($("nav-grid"), sections, questions, go);
  return true;
}

/** The server's answers and flags, with this terminal's unacknowledged changes laid on top. */
function mergeState(state) {
  const answers = new Map();
  for (const [id, keys] of Object.entries(state.answers || {})) {
    if (Array.isArray(keys)) answers.set(Number(id), keys.slice());
  }
  const flags = new Set((state.flags || []).map(Number));
  for (const entry of app.outbox.pending()) {
    if (entry.event === "answer") answers.set(entry.question_id, entry.choice.slice());
    else if (entry.flagged) flags.add(entry.question_id);
    else flags.delete(entry.question_id);
  }
  app.answers = answers;
  app.flags = flags;
}

function clampIndex(index) {
  const n = app.questions.length;
  if (!n) return 0;
  return Math.min(Math.max(0, Number.isInteger(index) ? index : 0), n - 1);
}

function currentQuestion() {
  return app.questions[app.current] || null;
}

function canAnswer() {
  return (
    app.screen === "exam" &&
    app.status === "running" &&
    !app.submitting &&
    app.clock.remainingMs() > 0
  );
}

function showExam() {
  if (app.screen !== "exam") showScreen("exam");
  renderCurrent(true);
  $("paused-overlay").hidden = app.status !== "paused";
  $("paused-reason").textContent = (app.attempt && app.attempt.pause_reason) || t("reasonNone");
  renderClock();
  updateSaveStatus();
}

function renderCurrent(rebuild) {
  const question = currentQuestion();
  if (!question) return;
  const box = $("question-box");
  if (rebuild || box.dataset.questionId !== String(question.id)) {
    app.inputs = renderQuestion(box, question, (key) => pick(question, key));
    box.dataset.questionId = String(question.id);
  }
  showChoice(app.inputs, app.answers.get(question.id), !canAnswer());
  const section = app.sections[question.section] || {};
  const count = app.questions.filter((q) => q.section === question.section).length;
  $("section-title").textContent = section.title || "";
  $("section-points").textContent = t("sectionPoints", { points: formatPoints(section.points), count });
  $("question-of").textContent = t("questionOf", { n: question.number, total: app.questions.length });
  const kinds = { multi: "choiceMulti", single: "choiceSingle", judge: "choiceJudge" };
  $("question-kind").textContent = t(kinds[question.type] || "choiceSingle");
  const flagged = app.flags.has(question.id);
  $("flag-mark").hidden = !flagged;
  const flagButton = $("flag-button");
  flagButton.textContent = flagged ? t("unflag") : t("flag");
  flagButton.setAttribute("aria-pressed", flagged ? "true" : "false");
  flagButton.classList.toggle("on", flagged);
  flagButton.disabled = !canAnswer();
  $("keys-hint").textContent = hasOptionF() ? t("keysHintShift") : t("keysHint");
  $("prev-button").disabled = app.current <= 0;
  $("next-button").disabled = app.current >= app.questions.length - 1;
  updateGrid();
}

function formatPoints(points) {
  const value = Number(points) || 0;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function updateGrid() {
  if (!app.cells.length) return;
  const pending = app.outbox ? app.outbox.pendingQuestionIds() : new Set();
  let answered = 0;
  app.questions.forEach((question, index) => {
    const cell = app.cells[index];
    if (!cell) return;
    const isAnswered = (app.answers.get(question.id) || []).length > 0;
    if (isAnswered) answered += 1;
    cell.classList.toggle("answered", isAnswered);
    cell.classList.toggle("flagged", app.flags.has(question.id));
    cell.classList.toggle("current", index === app.current);
    cell.classList.toggle("pending", pending.has(question.id));
    if (index === app.current) cell.setAttribute("aria-current", "step");
    else cell.removeAttribute("aria-current");
  });
  $("progress").textContent = `${answered} / ${app.questions.length}`;
  updateSubmit();
}

function go(index) {
  const target = clampIndex(index);
  if (target === app.current && app.screen === "exam") return;
  app.current = target;
  renderCurrent(false);
  sendPosition();
}

/** Tell the server where the candidate is, so another terminal opens the same question. */
function sendPosition() {
  const socket = app.socket;
  if (!socket || !socket.connected || !app.questions.length || app.status !== "running") return;
  if (app.positionSent === app.current) return;
  const position = app.current;
  app.positionSent = position;
  socket.timeout(ACK_TIMEOUT_MS).emit("navigate", { position }, (err, ack) => {
    if (!err && ack && ack.ok) {
      document.body.dataset.positionSaved = String(position);
    } else if (app.positionSent === position) {
      app.positionSent = null; // sent again on the next move or reconnect
    }
  });
}

// ----------------------------------------------------------------------------- answering
function pick(question, key) {
  if (!canAnswer()) {
    showChoice(app.inputs, app.answers.get(question.id), true);
    return;
  }
  const before = app.answers.get(question.id) || [];
  let choice;
  if (question.type === "multi") {
    const chosen = new Set(before);
    if (chosen.has(key)) chosen.delete(key);
    else chosen.add(key);
    choice = question.options.map((o) => o.key).filter((k) => chosen.has(k));
  } else {
    choice = [key];
  }
  if (choice.length === before.length && choice.every((k, i) => k === before[i])) {
    showChoice(app.inputs, before, false);
    return;
  }
  app.answers.set(question.id, choice);
  showChoice(app.inputs, choice, false);
  app.outbox.push("answer", question.id, { choice });
  updateGrid();
}

function toggleFlag() {
  const question = currentQuestion();
  if (!question || !canAnswer()) return;
  const flagged = !app.flags.has(question.id);
  if (flagged) app.flags.add(question.id);
  else app.flags.delete(question.id);
  app.outbox.push("flag", question.id, { flagged });
  renderCurrent(false);
}

function pickByPosition(position) {
  const question = currentQuestion();
  if (!question || position >= question.options.length) return;
  pick(question, question.options[position].key);
}

/** F is also the sixth option's letter: on such a question, Shift+F marks for review. */
function hasOptionF() {
  const question = currentQuestion();
  return Boolean(question && question.options.length >= 6);
}

function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && !target.classList.contains("exam-input");
}

function onKeyDown(event) {
  if (app.screen !== "exam") return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if ($("submit-dialog").open || !$("paused-overlay").hidden || !$("replaced-overlay").hidden) return;
  if (isTyping(event.target)) return;
  const key = event.key;
  let handled = true;
  if ((key === "f" || key === "F") && (!hasOptionF() || event.shiftKey)) toggleFlag();
  else if (/^[a-hA-H]$/.test(key)) pickByPosition(key.toUpperCase().charCodeAt(0) - 65);
  else if (/^[1-8]$/.test(key)) pickByPosition(Number(key) - 1);
  else if (key === "ArrowLeft" || key === "ArrowUp" || key === "PageUp") go(app.current - 1);
  else if (key === "ArrowRight" || key === "ArrowDown" || key === "PageDown") go(app.current + 1);
  else handled = false;
  // Arrows on a focused radio would change the answer: they move between questions here.
  if (handled) event.preventDefault();
}

// ----------------------------------------------------------------------------- status line
function updateSaveStatus() {
  const node = $("save-status");
  const pending = app.outbox ? app.outbox.size : 0;
  node.classList.remove("ok", "busy", "offline");
  if (!pending) {
    node.textContent = "✓ " + t("saved");
    node.classList.add("ok");
  } else if (!app.connected) {
    node.textContent = t("keptLocally", { n: pending });
    node.classList.add("offline");
  } else {
    node.textContent = t("saving");
    node.classList.add("busy");
  }
  node.dataset.pending = String(pending);
}

function renderClock() {
  if (app.screen !== "exam") return;
  const remaining = app.clock.remainingMs();
  const clock = $("clock");
  clock.textContent = formatClock(remaining);
  const barClock = $("bar-clock");
  barClock.classList.toggle("warn", remaining <= WARN_AT_MS);
  barClock.classList.toggle("paused", app.status === "paused");
  if (app.status === "running" && remaining <= WARN_AT_MS && remaining > 0 && !app.warned) {
    app.warned = true;
    showInfo(t("fiveMinutes"), 20000);
  }
  if (app.status === "running" && remaining <= 0 && !app.timeUpShown) {
    app.timeUpShown = true;
    showInfo(t("timeUp"), 0);
    renderCurrent(false);
  }
  updateSubmit();
}

function submitAllowed() {
  if (!app.attempt) return false;
  const remaining = app.clock.remainingMs();
  const elapsed = (Number(app.attempt.duration_ms) || 0) - remaining;
  return elapsed >= (Number(app.attempt.earliest_submit_ms) || 0) || remaining <= 0;
}

function updateSubmit() {
  const button = $("submit-button");
  const hint = $("submit-hint");
  if (!app.attempt) return;
  const allowed = submitAllowed();
  button.disabled = !allowed || app.status !== "running" || app.submitting;
  if (!allowed) {
    const minutes = Math.ceil((Number(app.attempt.earliest_submit_ms) || 0) / 60000);
    hint.textContent = t("submitTooEarly", { time: t("minutes", { m: minutes }) });
  } else if (!app.connected) {
    hint.textContent = t("submitOffline");
  } else {
    hint.textContent = "";
  }
}

// ----------------------------------------------------------------------------- submit
function numbersWhere(test) {
  return app.questions.filter(test).map((q) => q.number);
}

function openSubmitDialog() {
  if (app.status !== "running") return;
  const list = $("confirm-list");
  list.replaceChildren();
  const unanswered = numbersWhere((q) => !(app.answers.get(q.id) || []).length);
  const flagged = numbersWhere((q) => app.flags.has(q.id));
  const add = (text, className) => {
    const item = document.createElement("li");
    item.className = className;
    item.textContent = text;
    list.appendChild(item);
  };
  if (unanswered.length) {
    add(t("confirmUnanswered", { n: unanswered.length, list: unanswered.join(t("listSeparator")) }), "unanswered");
  } else {
    add(t("confirmAllAnswered"), "all");
  }
  if (flagged.length) add(t("confirmFlagged", { n: flagged.length, list: flagged.join(t("listSeparator")) }), "flagged");
  if (app.outbox && app.outbox.size) add(t("confirmPending"), "pending");
  setError("submit-error", "");
  $("submit-confirm").disabled = false;
  $("submit-dialog").showModal();
  $("submit-cancel").focus();
}

async function onSubmitConfirm() {
  const button = $("submit-confirm");
  const label = button.textContent;
  setError("submit-error", "");
  if (!app.connected) {
    setError("submit-error", t("submitOffline"));
    return;
  }
  button.disabled = true;
  button.textContent = t("submitting");
  app.submitting = true;
  try {
    // Every answer must be on the server before the paper is graded.
    const drained = await app.outbox.whenEmpty(DRAIN_TIMEOUT_MS);
    if (!drained) {
      setError("submit-error", t("submitPendingFailed"));
      return;
    }
    let ack = null;
    try {
      ack = await app.socket.timeout(SUBMIT_TIMEOUT_MS).emitWithAck("submit", {});
    } catch (err) {
      ack = null;
    }
    if (ack && ack.ok) {
      $("submit-dialog").close();
      app.status = "submitted";
      app.outbox.clear();
      showResult(ack.result);
      return;
    }
    setError("submit-error", (ack && ack.error && ack.error.message) || t("submitFailed"));
  } finally {
    app.submitting = false;
    button.disabled = false;
    button.textContent = label;
    if (app.screen === "exam") renderCurrent(false);
  }
}

// ----------------------------------------------------------------------------- result
function showResult(result) {
  if ($("submit-dialog").open) $("submit-dialog").close();
  $("paused-overlay").hidden = true;
  $("banner-info").hidden = true;
  fillDetails();
  const r = result || {};
  $("result-score").textContent = t("score", {
    score: formatPoints(r.score),
    max: formatPoints(r.max_score),
  });
  const verdict = $("result-verdict");
  verdict.textContent = r.passed ? t("passed") : t("failed");
  verdict.classList.toggle("pass", Boolean(r.passed));
  verdict.classList.toggle("fail", !r.passed);
  // Why the paper was handed in, when it was not the candidate's own choice.
  const why = r.reason && r.reason !== "candidate" ? t(`reason_${r.reason}`) : "";
  $("result-reason").textContent = why.startsWith("reason_") ? "" : why;
  $("result-reason").hidden = !$("result-reason").textContent;
  const hasCard = Boolean(r.card_no && r.verify_url);
  $("result-card").hidden = !hasCard;
  $("result-nocard").hidden = hasCard || !r.passed;
  $("result-nocard").textContent = t("noCard");
  if (hasCard) {
    const code = String(r.verify_url).split("/").filter(Boolean).pop();
    const base = `/cards/${encodeURIComponent(r.card_no)}/${encodeURIComponent(code)}`;
    $("card-no").textContent = r.card_no;
    $("card-print").href = base;
    $("card-pdf").href = `${base}.pdf`;
    $("card-verify").href = r.verify_url;
  }
  showScreen("result");
}

// ----------------------------------------------------------------------------- font size
function setFont(size) {
  const value = [1, 2, 3].includes(size) ? size : 1;
  document.body.classList.remove("t-size-1", "t-size-2", "t-size-3");
  document.body.classList.add(`t-size-${value}`);
  document.querySelectorAll("button[data-font]").forEach((button) => {
    button.setAttribute("aria-pressed", Number(button.dataset.font) === value ? "true" : "false");
  });
  local.set(FONT_KEY, value);
}

// ----------------------------------------------------------------------------- start-up
function init() {
  setFont(Number(local.get(FONT_KEY)) || 1);
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("start-button").addEventListener("click", onStart);
  $("not-me").addEventListener("click", () => signOut(""));
  $("prev-button").addEventListener("click", () => go(app.current - 1));
  $("next-button").addEventListener("click", () => go(app.current + 1));
  $("flag-button").addEventListener("click", toggleFlag);
  $("submit-button").addEventListener("click", openSubmitDialog);
  $("submit-cancel").addEventListener("click", () => $("submit-dialog").close());
  $("submit-confirm").addEventListener("click", onSubmitConfirm);
  $("finish-button").addEventListener("click", () => signOut(""));
  $("take-over").addEventListener("click", () => {
    $("replaced-overlay").hidden = true;
    if (app.socket) app.socket.connect();
  });
  document.querySelectorAll("button[data-font]").forEach((button) => {
    button.addEventListener("click", () => setFont(Number(button.dataset.font)));
  });
  document.addEventListener("keydown", onKeyDown);
  $("announce-ok").addEventListener("click", () => { $("announce").hidden = true; });
  document.addEventListener("visibilitychange", reportFocus);
  window.addEventListener("blur", reportFocus);
  window.addEventListener("focus", reportFocus);
  setInterval(renderClock, 250);

  const saved = session.get(LOGIN_KEY);
  if (saved && typeof saved.token === "string" && Number.isInteger(saved.attempt_id)) {
    app.login = saved;
    fillDetails();
    showScreen("loading");
    connect();
  } else {
    showScreen("login");
  }
}

init();
