// Knowledge-point selects follow the bank chosen next to them (the options carry data-bank).

/** Show only the knowledge points of the chosen bank; "strict" hides all when none is chosen. */
export function linkTopicSelect(bankSelect, topicSelect) {
  const strict = topicSelect.hasAttribute("data-topic-strict");
  const apply = () => {
    const bank = bankSelect.value;
    for (const option of topicSelect.options) {
      if (!option.dataset.bank) continue;
      const show = bank ? option.dataset.bank === bank : !strict;
      option.hidden = !show;
      option.disabled = !show;
      if (!show && option.selected) topicSelect.value = "";
    }
  };
  bankSelect.addEventListener("change", apply);
  apply();
}

/** Link every [data-topic-select] to the [data-bank-select] of the same form. */
export function linkAllTopicSelects(root = document) {
  for (const form of root.querySelectorAll("form")) {
    const bank = form.querySelector("[data-bank-select]");
    const topic = form.querySelector("[data-topic-select]");
    if (bank && topic) linkTopicSelect(bank, topic);
  }
}
