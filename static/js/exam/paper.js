// Drawing the paper: one question at a time (the same markup and classes as
// templates/exam/_question.html, styled by exam.css) and the navigation grid.
// Stems and option texts were sanitized by the server when stored; they are the only HTML set
// with innerHTML. Everything else is text.

const LETTERS = "ABCDEFGH";

/** Flatten the paper's sections into one list of questions with their section and number. */
export function flattenPaper(paper) {
  const questions = [];
  const sections = (paper && paper.sections) || [];
  sections.forEach((section, sectionIndex) => {
    (section.questions || []).forEach((question) => {
      questions.push({
        id: question.id,
        type: section.type,
        stem: question.stem || "",
        options: question.options || [],
        section: sectionIndex,
        index: questions.length,
        number: questions.length + 1,
      });
    });
  });
  return { sections, questions };
}

/** A short fingerprint of the paper, to notice when a state brings a different one. */
export function paperKey(questions) {
  return questions.map((q) => `${q.id}:${q.options.map((o) => o.key).join(",")}`).join("|");
}

export function letterOf(position) {
  return position < LETTERS.length ? LETTERS[position] : String(position + 1);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Render ``question`` into ``box``; ``onPick(key)`` is called when an option is clicked.
 * Returns the option inputs in display order.
 */
export function renderQuestion(box, question, onPick) {
  const multi = question.type === "multi";
  const article = el("article", `exam-question exam-type-${question.type}`);
  article.dataset.questionId = String(question.id);
  article.dataset.type = question.type;
  const stem = el("div", "exam-stem rich");
  stem.id = "question-stem";
  stem.innerHTML = question.stem;
  article.appendChild(stem);
  const list = el("ol", "exam-options");
  list.setAttribute("role", multi ? "group" : "radiogroup");
  list.setAttribute("aria-labelledby", "question-stem");
  const inputs = [];
  question.options.forEach((option, position) => {
    const letter = letterOf(position);
    const item = el("li");
    const label = el("label", "exam-option");
    const input = el("input", "exam-input");
    input.type = multi ? "checkbox" : "radio";
    input.name = `q${question.id}`;
    input.value = option.key;
    input.dataset.letter = letter;
    input.setAttribute("aria-label", letter);
    input.addEventListener("change", () => onPick(option.key));
    label.appendChild(input);
    const badge = el("span", "exam-letter", letter);
    badge.setAttribute("aria-hidden", "true");
    label.appendChild(badge);
    const text = el("span", "exam-option-text rich");
    text.innerHTML = option.text;
    label.appendChild(text);
    item.appendChild(label);
    list.appendChild(item);
    inputs.push(input);
  });
  article.appendChild(list);
  box.replaceChildren(article);
  return inputs;
}

/** Show ``chosen`` (a list of keys) on the inputs; ``disabled`` blocks answering. */
export function showChoice(inputs, chosen, disabled) {
  const keys = new Set(chosen || []);
  inputs.forEach((input) => {
    input.checked = keys.has(input.value);
    input.disabled = Boolean(disabled);
    input.closest(".exam-option").classList.toggle("selected", input.checked);
  });
}

/** Build the navigation grid: one button per question, grouped by section. */
export function renderGrid(container, sections, questions, onGo) {
  const cells = [];
  const fragment = document.createDocumentFragment();
  sections.forEach((section, sectionIndex) => {
    const group = el("div", "t-grid-group");
    group.appendChild(el("div", "t-grid-title", section.title || ""));
    const row = el("div", "t-grid-cells");
    questions
      .filter((q) => q.section === sectionIndex)
      .forEach((question) => {
        const cell = el("button", "t-cell", String(question.number));
        cell.type = "button";
        cell.dataset.index = String(question.index);
        cell.addEventListener("click", () => onGo(question.index));
        row.appendChild(cell);
        cells[question.index] = cell;
      });
    group.appendChild(row);
    fragment.appendChild(group);
  });
  container.replaceChildren(fragment);
  return cells;
}
