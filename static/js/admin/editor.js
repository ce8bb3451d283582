// The question editor: formatting toolbar, image upload, option rows, type switch, preview.
// The server checks and sanitizes everything again; this only makes typing pleasant.
import { linkAllTopicSelects } from "./bank-topics.js";

const form = document.getElementById("question-editor");
const LETTERS = "ABCDEFGH";
const MAX_OPTIONS = 8;

linkAllTopicSelects();

function csrfToken() {
  return form.querySelector('input[name="csrf_token"]').value;
}

// ---------------------------------------------------------------- rich text toolbar
function insertAround(textarea, before, after) {
  const { selectionStart: start, selectionEnd: end, value } = textarea;
  const chosen = value.slice(start, end);
  textarea.value = value.slice(0, start) + before + chosen + after + value.slice(end);
  textarea.focus();
  textarea.setSelectionRange(start + before.length, start + before.length + chosen.length);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

function insertList(textarea, tag) {
  const { selectionStart: start, selectionEnd: end, value } = textarea;
  const lines = value.slice(start, end).split("\n").filter((line) => line.trim() !== "");
  const items = (lines.length ? lines : [""]).map((line) => `<li>${line}</li>`).join("");
  textarea.value = value.slice(0, start) + `<${tag}>${items}</${tag}>` + value.slice(end);
  textarea.focus();
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

async function uploadImage(textarea, toolbar) {
  const picker = document.createElement("input");
  picker.type = "file";
  picker.accept = "image/png,image/jpeg,image/gif,image/webp";
  picker.addEventListener("change", async () => {
    if (!picker.files.length) return;
    const body = new FormData();
    body.append("file", picker.files[0]);
    body.append("csrf_token", csrfToken());
    toolbar.classList.add("busy");
    try {
      const response = await fetch(form.dataset.mediaUrl, {
        method: "POST",
        body,
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error ? data.error.message : response.statusText);
      insertAround(textarea, `<img src="${data.url}" alt="">`, "");
    } catch (error) {
      const failed = document.getElementById("upload-messages").dataset.failed;
      window.alert(`${failed} ${error.message}`);
    } finally {
      toolbar.classList.remove("busy");
    }
  });
  picker.click();
}

function addToolbar(textarea) {
  if (textarea.readOnly || textarea.previousElementSibling?.classList.contains("rich-toolbar")) {
    return;
  }
  const toolbar = document.getElementById("rich-toolbar").content.firstElementChild.cloneNode(true);
  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.wrap) {
      insertAround(textarea, `<${button.dataset.wrap}>`, `</${button.dataset.wrap}>`);
    } else if (button.dataset.list) {
      insertList(textarea, button.dataset.list);
    } else if (button.hasAttribute("data-image")) {
      uploadImage(textarea, toolbar);
    }
  });
  textarea.before(toolbar);
}

// ---------------------------------------------------------------- option rows
const rowsBox = form.querySelector("[data-option-rows]");
const typeSelect = form.querySelector("[data-type-select]");
let stashedRows = null; // the choice rows kept aside while the type is true/false

function rows() {
  return [...rowsBox.querySelectorAll("[data-option-row]")];
}

function renumber() {
  const type = typeSelect.value;
  rows().forEach((row, index) => {
    row.querySelector("[data-letter]").textContent = LETTERS[index] || String(index + 1);
    const correct = row.querySelector("[data-correct]");
    correct.value = String(index);
    correct.type = type === "multi" ? "checkbox" : "radio";
  });
  const addButton = form.querySelector("[data-add-option]");
  addButton.disabled = rows().length >= MAX_OPTIONS;
}

function newRow() {
  const row = document.getElementById("option-row-template").content.firstElementChild.cloneNode(true);
  rowsBox.append(row);
  addToolbar(row.querySelector("textarea"));
  renumber();
  return row;
}

function switchType() {
  const type = typeSelect.value;
  const wasJudge = form.dataset.type === "judge";
  if (type === "judge" && !wasJudge) {
    stashedRows = rows();
    for (const row of stashedRows) row.remove();
    const judge = document.getElementById("judge-rows").content.cloneNode(true);
    rowsBox.append(...judge.querySelectorAll("[data-option-row]"));
  } else if (type !== "judge" && wasJudge) {
    for (const row of rows()) row.remove();
    if (stashedRows && stashedRows.length) {
      rowsBox.append(...stashedRows);
    } else {
      for (let i = 0; i < 4; i += 1) newRow();
    }
    stashedRows = null;
  }
  if (type === "single") {
    // One correct option only: keep the first ticked.
    let seen = false;
    for (const box of rowsBox.querySelectorAll("[data-correct]")) {
      if (box.checked && seen) box.checked = false;
      seen = seen || box.checked;
    }
  }
  form.dataset.type = type;
  renumber();
  schedulePreview();
}

form.querySelector("[data-add-option]").addEventListener("click", () => {
  if (rows().length < MAX_OPTIONS) newRow().querySelector("textarea").focus();
});
rowsBox.addEventListener("click", (event) => {
  const remove = event.target.closest("[data-remove-option]");
  if (!remove || rows().length <= 2) return;
  remove.closest("[data-option-row]").remove();
  renumber();
  schedulePreview();
});
typeSelect.addEventListener("change", switchType);

// ---------------------------------------------------------------- preview
const pane = document.getElementById("preview-pane");
let previewTimer = null;
let previewSerial = 0;

async function preview() {
  const serial = ++previewSerial;
  const response = await fetch(form.dataset.previewUrl, {
    method: "POST",
    body: new FormData(form),
    headers: { "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  });
  const html = await response.text();
  // The server renders sanitized content with the candidate's template; a late answer is dropped.
  if (serial === previewSerial) pane.innerHTML = html;
}

function schedulePreview() {
  window.clearTimeout(previewTimer);
  previewTimer = window.setTimeout(preview, 700);
}

form.querySelector("[data-preview-button]").addEventListener("click", preview);
form.addEventListener("input", schedulePreview);
form.addEventListener("change", schedulePreview);

for (const textarea of form.querySelectorAll("textarea[data-rich]")) addToolbar(textarea);
renumber();
if (form.querySelector('textarea[name="stem"]').value.trim()) preview();
