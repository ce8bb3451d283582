// The blueprint form: add, remove and reorder sections; show only the chosen bank's knowledge
// points; keep the question count and maximum score up to date. The server validates anyway.

const form = document.getElementById("blueprint-form");
const list = document.getElementById("bp-sections");
const template = document.getElementById("bp-section-template");
const bankSelect = form.querySelector("[data-bank-select]");
const PREFIX = /^sections-(\d+|__i__)-/;

function sections() {
  return Array.from(list.querySelectorAll(":scope > [data-section]"));
}

function renumber() {
  sections().forEach((section, index) => {
    for (const el of section.querySelectorAll("[name], [id], label[for]")) {
      for (const attr of ["name", "id", "for"]) {
        const value = el.getAttribute(attr);
        if (value && PREFIX.test(value)) {
          el.setAttribute(attr, value.replace(PREFIX, `sections-${index}-`));
        }
      }
    }
    section.querySelector("[data-section-no]").textContent = String(index + 1);
    section.querySelector('[data-move="up"]').disabled = index === 0;
    section.querySelector('[data-move="down"]').disabled = index === sections().length - 1;
    section.querySelector("[data-remove]").disabled = sections().length === 1;
  });
  updateTotals();
}

function updateTotals() {
  let count = 0;
  let score = 0;
  let complete = true;
  for (const section of sections()) {
    const n = Number.parseInt(section.querySelector("[data-count]").value, 10);
    const p = Number.parseFloat(section.querySelector("[data-points]").value);
    if (Number.isFinite(n)) count += n;
    if (Number.isFinite(n) && Number.isFinite(p)) score += n * p;
    else complete = false;
  }
  form.querySelector("[data-total-count]").textContent = String(count);
  form.querySelector("[data-max-score]").textContent = complete
    ? String(Math.round(score * 100) / 100)
    : "?";
}

function showBankTopics() {
  const bank = bankSelect.value;
  for (const group of form.querySelectorAll(".bp-topic-bank")) {
    const mine = bank !== "" && group.dataset.bank === bank;
    group.hidden = bank !== "" && !mine;
    if (!mine && bank !== "") {
      for (const box of group.querySelectorAll("input[type=checkbox]")) box.checked = false;
    }
  }
  for (const section of sections()) updateTopicSummary(section);
}

function updateTopicSummary(section) {
  const chosen = section.querySelectorAll(".bp-topics input[type=checkbox]:checked").length;
  const summary = section.querySelector("[data-topic-summary]");
  summary.textContent = chosen
    ? summary.closest("form").dataset.chosenLabel.replace("%d", String(chosen))
    : summary.closest("form").dataset.allLabel;
}

function addSection() {
  const fragment = template.content.cloneNode(true);
  list.appendChild(fragment);
  renumber();
  showBankTopics();
  const added = sections().at(-1);
  added.querySelector("select, input").focus();
}

list.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || !list.contains(button)) return;
  const section = button.closest("[data-section]");
  if (button.hasAttribute("data-remove")) {
    if (sections().length > 1) section.remove();
  } else if (button.dataset.move === "up" && section.previousElementSibling) {
    list.insertBefore(section, section.previousElementSibling);
  } else if (button.dataset.move === "down" && section.nextElementSibling) {
    list.insertBefore(section.nextElementSibling, section);
  } else {
    return;
  }
  renumber();
  button.focus();
});

list.addEventListener("input", updateTotals);
list.addEventListener("change", (event) => {
  const section = event.target.closest("[data-section]");
  if (section && event.target.type === "checkbox") updateTopicSummary(section);
});
bankSelect.addEventListener("change", showBankTopics);
document.getElementById("bp-add-section").addEventListener("click", addSection);

renumber();
