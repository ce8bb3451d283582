// Import pages: show the new-bank fields only when "a new bank" is chosen; on the report,
// filter the rows down to those with problems.
const choice = document.querySelector("[data-bank-choice]");
const newBank = document.querySelector("[data-new-bank]");
if (choice && newBank) {
  const sync = () => { newBank.hidden = choice.value !== "__new__"; };
  choice.addEventListener("change", sync);
  sync();
}

const onlyProblems = document.querySelector("[data-only-problems]");
if (onlyProblems) {
  onlyProblems.addEventListener("change", () => {
    for (const row of document.querySelectorAll("table.import-rows tbody tr")) {
      row.hidden = onlyProblems.checked && !row.classList.contains("has-issues");
    }
  });
}

for (const button of document.querySelectorAll("[data-confirm-import], [data-confirm-valid-only]")) {
  button.form.addEventListener("submit", () => { button.disabled = true; });
}
