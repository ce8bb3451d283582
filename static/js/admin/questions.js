// The question list: select all, the bulk-action fields, and knowledge points per bank.
import { linkAllTopicSelects } from "./bank-topics.js";

linkAllTopicSelects();

const bulk = document.getElementById("bulk-form");
if (bulk) {
  const boxes = () => bulk.querySelectorAll('input[name="ids"]');
  const all = bulk.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
    });
  }
  const action = bulk.querySelector("[data-bulk-action]");
  const moveFields = bulk.querySelectorAll("[data-move-field]");
  const showMove = () => {
    for (const field of moveFields) field.hidden = action.value !== "move";
  };
  action.addEventListener("change", showMove);
  showMove();
  const submit = bulk.querySelector("[data-confirm-delete]");
  bulk.addEventListener("submit", (event) => {
    if (action.value === "delete" && !window.confirm(submit.dataset.confirmDelete)) {
      event.preventDefault();
    }
  });
}
