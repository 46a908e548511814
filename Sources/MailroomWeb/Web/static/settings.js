// The administration screens' own behaviour (issue 27): rule conditions, the phone menu.
// Served after app.js in the same file; no inline script (the pages' CSP forbids it).
"use strict";

(function () {
  // A rule's "A header…" field sends the API's "header:NAME".
  document.addEventListener("mailroom:serialised", (event) => {
    const form = event.target;
    const body = event.detail;
    if (!(form instanceof HTMLFormElement) || form.id !== "rule-form" || !Array.isArray(body.conditions)) return;
    body.conditions.forEach((condition) => {
      if (condition.field === "header") condition.field = "header:" + String(condition.headerName || "").trim();
      delete condition.headerName;
    });
  });

  // Phones: the navigation folds into a menu behind one button.
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-menu-toggle]");
    if (!button) return;
    const menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const button = document.querySelector('button[data-menu-toggle][aria-expanded="true"]');
    if (!button) return;
    button.setAttribute("aria-expanded", "false");
    const menu = document.getElementById(button.getAttribute("aria-controls"));
    if (menu) menu.classList.remove("open");
    button.focus();
  });
})();
