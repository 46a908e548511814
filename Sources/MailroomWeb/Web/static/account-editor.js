// The account editor's pieces (issues 24 and 27): service presets, the ticket resolver menu, the
// subject preview, the signature editor, the account's images; the short first screen (one
// password for both servers, "Sign in with …"), folded sections, the key's length, and the
// connection test that follows a save. Served after app.js as one script
// (WebAssets joins them), with app.js's helpers from window.Mailroom.
"use strict";

(function () {
  const { api, toast, labelName, refreshConditional, renumber, askDialog, showResult, reveal } = window.Mailroom;

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.matches && el.matches("select[data-presets]")) choosePreset(el);
    if (el.matches && el.matches("select[data-adds-to]")) addPicked(el);
  });

  // A removed row may give its resolver back to the menu (app.js removed the row already).
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-remove-row]");
    if (button) document.querySelectorAll("select[data-adds-to]").forEach(refreshPicker);
  });

  // A service preset (Gmail, Outlook365, ...) fills the server settings, which the form then hides
  // (they show only for "custom"). Values an administrator typed are never replaced silently: the
  // dialog lists them and "keep mine" stays on custom. Back on custom, the preset's values remain.
  async function choosePreset(select) {
    const presets = JSON.parse(select.dataset.presets || "{}");
    const preset = presets[select.value];
    const previous = presets[select.dataset.current];
    const form = select.closest("form");
    if (!preset || !form) { select.dataset.current = select.value; refreshConditional(); return; }
    const controls = Object.keys(preset).map((name) => [name, form.querySelector(`[name="${CSS.escape(name)}"]`)])
      .filter(([, control]) => control && !control.readOnly && !control.hasAttribute("data-locked"));
    const typed = controls.filter(([name, control]) => {
      if (control.tagName === "SELECT") return false;
      const value = control.value.trim();
      return value !== "" && value !== String(preset[name]) && !(previous && value === String(previous[name]));
    });
    if (typed.length > 0) {
      const list = document.getElementById("preset-differences");
      if (list) {
        list.textContent = "";
        typed.forEach(([name, control]) => {
          const item = document.createElement("li");
          const side = name.startsWith("incoming.") ? "Incoming" : "Outgoing";
          item.textContent = `${side} ${labelName(control).toLowerCase()}: ${control.value} (the service uses ${preset[name]})`;
          list.appendChild(item);
        });
      }
      if (!(await askDialog(document.getElementById("preset-dialog")))) {
        select.value = "custom";
        select.dataset.current = "custom";
        refreshConditional();
        select.focus();
        return;
      }
    }
    controls.forEach(([name, control]) => { control.value = String(preset[name]); });
    select.dataset.current = select.value;
    refreshConditional();
  }

  // "custom" needs the servers typed in: their sections unfold (a preset's stay as they were).
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!el.matches || !el.matches("select[data-presets]") || el.value !== "custom") return;
    ["incoming-server", "outgoing-server"].forEach((id) => { const box = document.getElementById(id); if (box) reveal(box); });
  });

  // A menu that adds its choice to an ordered list ([data-adds-to="list"]) and offers only what the
  // list lacks (Ameyo's "select ticket resolver": an added resolver leaves the drop-down).
  function pickerChoices(select) {
    try { return JSON.parse(select.dataset.labels || "[]"); } catch (e) { return []; }
  }

  function refreshPicker(select) {
    const list = document.querySelector(`[data-list="${CSS.escape(select.dataset.addsTo)}"]`);
    if (!list) return;
    const used = new Set(Array.from(list.querySelectorAll("[data-item] input[name]")).map((i) => i.value));
    const first = select.options[0];
    select.textContent = "";
    if (first) select.appendChild(first);
    pickerChoices(select).filter(([name]) => !used.has(name)).forEach(([name, label]) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = label;
      select.appendChild(option);
    });
    select.value = "";
    select.disabled = select.options.length <= 1;
  }

  function addPicked(select) {
    const name = select.value;
    const list = document.querySelector(`[data-list="${CSS.escape(select.dataset.addsTo)}"]`);
    const template = document.querySelector(`template[data-row-for="${CSS.escape(select.dataset.addsTo)}"]`);
    if (!name || !list || !template) return;
    const label = (pickerChoices(select).find(([n]) => n === name) || [name, name])[1];
    const fragment = template.content.cloneNode(true);
    const item = fragment.querySelector("[data-item]");
    item.querySelector("input[name]").value = name;
    item.dataset.resolver = name;
    const text = item.querySelector("[data-label]");
    if (text) text.textContent = label;
    item.querySelectorAll("button[data-move='up']").forEach((b) => b.setAttribute("aria-label", `Move ${label} up`));
    item.querySelectorAll("button[data-move='down']").forEach((b) => b.setAttribute("aria-label", `Move ${label} down`));
    item.querySelectorAll("button[data-remove-row]").forEach((b) => b.setAttribute("aria-label", `Remove ${label}`));
    list.appendChild(fragment);
    renumber(list);
    refreshPicker(select);
    toast(`${label} added as number ${list.querySelectorAll("[data-item]").length}.`);
    if (!select.disabled) select.focus();
  }

  document.querySelectorAll("select[data-presets]").forEach((select) => { select.dataset.current = select.value; });
  document.querySelectorAll("select[data-adds-to]").forEach(refreshPicker);
  document.querySelectorAll("[data-list]").forEach(renumber);

  // The subject preview follows the prefix as it is typed: data-with has "{prefix}" where it goes.
  document.addEventListener("input", (event) => {
    const el = event.target;
    if (!el.dataset || !el.dataset.subjectPreview) return;
    const preview = document.getElementById(el.dataset.subjectPreview);
    const out = preview && preview.querySelector("output");
    if (!out) return;
    const prefix = el.value.trim();
    out.textContent = prefix ? preview.dataset.with.replace("{prefix}", prefix) : preview.dataset.without;
  });

  // The signature editor: a contenteditable area kept in step with its HTML textarea (which the
  // form sends), with bold, italic, links, images and placeholders; no script from elsewhere.
  function editorSource(area) {
    const box = area.closest("[data-editor-for]");
    return box ? document.getElementById(box.dataset.editorFor) : null;
  }

  document.querySelectorAll("[data-editor-for]").forEach((box) => {
    const source = document.getElementById(box.dataset.editorFor);
    const area = box.querySelector("[contenteditable]");
    if (source && area) area.innerHTML = source.value;
  });

  document.addEventListener("input", (event) => {
    const el = event.target;
    if (el.isContentEditable) {
      const source = editorSource(el);
      if (source) source.value = el.innerHTML;
    } else if (el.id) {
      const box = document.querySelector(`[data-editor-for="${CSS.escape(el.id)}"]`);
      const area = box && box.querySelector("[contenteditable]");
      if (area) area.innerHTML = el.value;
    }
  });

  // The toolbar's address field takes the focus from the editor: the editor's last selection is
  // kept, and put back before a command acts on it.
  const editorRanges = new WeakMap();
  document.addEventListener("selectionchange", () => {
    const selection = window.getSelection();
    if (!selection || selection.rangeCount === 0) return;
    const node = selection.anchorNode;
    const element = node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
    const area = element && element.closest("[data-editor-for] [contenteditable]");
    if (area) editorRanges.set(area, selection.getRangeAt(0).cloneRange());
  });

  function restoreSelection(area) {
    area.focus();
    const range = editorRanges.get(area);
    if (!range) return;
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-command]");
    if (!button) return;
    const box = button.closest("[data-editor-for]");
    const area = box && box.querySelector("[contenteditable]");
    if (!area) return;
    let value = null;
    if (button.dataset.urlFrom) {
      const input = document.getElementById(button.dataset.urlFrom);
      value = input ? input.value.trim() : "";
      // Only web addresses and inline parts (cid:): never javascript: or data: in a signature.
      if (!/^(https?:|cid:|mailto:)/i.test(value)) {
        toast("Type an address that starts with https://, http://, mailto: or cid: first.");
        if (input) input.focus();
        return;
      }
    }
    restoreSelection(area);
    document.execCommand(button.dataset.command, false, value);
    const source = editorSource(area);
    if (source) source.value = area.innerHTML;
    if (button.hasAttribute("aria-pressed")) button.setAttribute("aria-pressed", String(document.queryCommandState(button.dataset.command)));
  });

  // Placeholder buttons insert "{{ name }}" at the caret of their target textarea (or editor).
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-insert]");
    if (!button) return;
    const target = document.getElementById(button.dataset.target);
    if (!target) return;
    if (target.isContentEditable) {
      restoreSelection(target);
      document.execCommand("insertText", false, button.dataset.insert);
      const source = editorSource(target);
      if (source) source.value = target.innerHTML;
      return;
    }
    const text = button.dataset.insert;
    const start = target.selectionStart || target.value.length;
    target.value = target.value.slice(0, start) + text + target.value.slice(target.selectionEnd || start);
    target.focus();
    target.selectionStart = target.selectionEnd = start + text.length;
  });

  // Account images (logo, signature pictures): uploaded once, listed as cid:NAME rows the account
  // form sends as `inlineImages`; the name is offered in the editor's address field to insert.
  document.addEventListener("change", async (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.uploadImage) return;
    const list = document.getElementById(input.dataset.uploadImage);
    const nameField = document.getElementById(input.dataset.nameFrom);
    const file = input.files && input.files[0];
    if (!list || !file) return;
    const typed = nameField ? nameField.value.trim() : "";
    const name = (typed || file.name.replace(/\.[^.]*$/, "")).replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64) || "image";
    const url = "/api/v1/attachments?kind=image&filename=" + encodeURIComponent(file.name) + "&inline=true&contentId=" + encodeURIComponent(name);
    const result = await api("POST", url, file, { "Content-Type": file.type || "application/octet-stream" });
    input.value = "";
    // A refused file is said at the field (not a passing toast): what it is and what is allowed.
    const errorId = input.id + "-error";
    const old = document.getElementById(errorId);
    if (old) old.remove();
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== errorId);
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", described.join(" "));
    if (!result.ok) {
      const error = result.data && result.data.error;
      const detail = error && Array.isArray(error.details) && error.details[0];
      const note = document.createElement("p");
      note.className = "field-error";
      note.id = errorId;
      // A single problem comes as "file logo.svg is not …": the field's name is the label's here.
      let message = (detail && detail.message) || (error && error.message) || "the upload failed.";
      if (!detail && error && error.field && message.startsWith(error.field + " ")) message = message.slice(error.field.length + 1);
      note.textContent = `${labelName(input)}: ${message}`;
      (input.closest(".field") || input.parentElement).appendChild(note);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", described.concat(errorId).join(" "));
      input.focus();
      return;
    }
    const item = document.createElement("li");
    item.setAttribute("data-item", "");
    item.className = "row";
    item.dataset.image = name;
    [["contentId", name], ["uploadId", result.data.id], ["filename", file.name]].forEach(([field, value]) => {
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = field;
      hidden.value = value;
      item.appendChild(hidden);
    });
    const label = document.createElement("span");
    label.className = "field";
    label.textContent = `cid:${name} · ${file.name}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.setAttribute("data-remove-row", "");
    remove.setAttribute("aria-label", `Remove image ${name}`);
    remove.textContent = "Remove";
    item.append(label, remove);
    list.appendChild(item);
    const address = document.getElementById("signature-url");
    if (address) address.value = "cid:" + name;
    if (nameField) nameField.value = "";
    toast(`Image cid:${name} uploaded; save the account to keep it.`);
  });

  // ---------- The first screen and the folded sections (issue 27) ----------

  const accountForm = document.getElementById("account-form");
  const actionBar = document.getElementById("account-actions");
  if (actionBar && typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      document.documentElement.style.scrollPaddingBottom = `${actionBar.offsetHeight + 16}px`;
    }).observe(actionBar);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-open-sections]");
    if (!button) return;
    document.querySelectorAll("details.fold").forEach((box) => { box.open = true; });
    toast("Every section is open.");
  });

  // A link to a section (the navigation) unfolds it first.
  function openTarget(hash) {
    const target = hash && hash.length > 1 ? document.getElementById(decodeURIComponent(hash.slice(1))) : null;
    if (target) { reveal(target); target.scrollIntoView({ block: "start" }); }
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest(".section-nav a[href^='#']");
    if (link) openTarget(link.getAttribute("href"));
  });
  window.addEventListener("hashchange", () => openTarget(location.hash));
  if (accountForm && location.hash) openTarget(location.hash);

  // The key keeps what is typed: past its limit it says so at the field instead of cutting the text.
  document.addEventListener("input", (event) => {
    const el = event.target;
    if (!el.dataset || !el.dataset.limit) return;
    const limit = Number(el.dataset.limit);
    const errorId = el.id + "-limit-error";
    let note = document.getElementById(errorId);
    const described = (el.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== errorId);
    if (el.value.length > limit) {
      if (!note) {
        note = document.createElement("p");
        note.className = "field-error";
        note.id = errorId;
        (el.closest(".field") || el.parentElement).appendChild(note);
      }
      note.textContent = `${labelName(el)} is ${el.value.length} characters long: at most ${limit} fit. Shorten it (for example HELP).`;
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("aria-describedby", described.concat(errorId).join(" "));
    } else if (note) {
      note.remove();
      el.removeAttribute("aria-invalid");
      el.setAttribute("aria-describedby", described.join(" "));
    }
  });

  // One password for both servers: it goes into each server's password (and its confirmation;
  // the first screen's own confirmation is the check), with the address as the username where none
  // was typed. A server whose protocol is "none" is left alone.
  function sides() {
    if (!accountForm) return [];
    return ["incoming", "outgoing"].filter((side) => {
      const protocol = accountForm.querySelector(`[name="${side}.protocol"]`);
      return protocol && protocol.value !== "none";
    });
  }

  function setMethod(side, method) {
    const select = document.getElementById(`${side}-auth-method`);
    if (select && select.value !== method) {
      select.value = method;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function fillUsername(side) {
    const address = document.getElementById("acc-from");
    const username = document.getElementById(`${side}-username`);
    if (!address || !username) return;
    if (username.value === "" || username.value === username.dataset.fromAddress) {
      username.value = address.value.trim();
      username.dataset.fromAddress = username.value;
    }
  }

  document.addEventListener("input", (event) => {
    const el = event.target;
    if (el.id === "quick-password") {
      sides().forEach((side) => {
        setMethod(side, "password");
        fillUsername(side);
        ["password", "password-confirm"].forEach((suffix) => {
          const field = document.getElementById(`${side}-${suffix}`);
          if (field) field.value = el.value;
        });
      });
    } else if (el.id === "acc-from") {
      ["incoming", "outgoing"].forEach((side) => {
        const username = document.getElementById(`${side}-username`);
        if (username && username.dataset.fromAddress !== undefined) fillUsername(side);
      });
    }
  });

  // "Sign in with …": both servers use the provider, the account is saved, and the page that
  // follows sends the browser to the provider's consent (the sign-in needs a saved account).
  const signInKey = "mailroom:sign-in-after-save";
  const testKey = "mailroom:test-after-save";
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-sign-in-provider]");
    if (!button || !accountForm) return;
    const active = sides();
    if (active.length === 0) { toast("Choose an incoming or outgoing protocol first."); return; }
    active.forEach((side) => {
      setMethod(side, "oauth2");
      fillUsername(side);
      const provider = document.getElementById(`${side}-oa-provider-id`);
      if (provider) { provider.value = button.dataset.signInProvider; provider.dispatchEvent(new Event("change", { bubbles: true })); }
    });
    if (!accountForm.reportValidity()) return;
    sessionStorage.setItem(signInKey, "1");
    accountForm.requestSubmit(document.getElementById("save-account"));
  });

  if (accountForm) {
    accountForm.addEventListener("mailroom:failed", () => sessionStorage.removeItem(signInKey));
    // Saving an account that connects anywhere tests the connection on the page that follows.
    accountForm.addEventListener("mailroom:saved", (event) => {
      const saved = event.detail || {};
      const connects = ["incoming", "outgoing"].some((side) => saved[side] && saved[side].protocol && saved[side].protocol !== "none");
      if (saved.id && connects && !sessionStorage.getItem(signInKey)) sessionStorage.setItem(testKey, saved.id);
    });
    document.getElementById("test-connection")?.addEventListener("click", () => {
      const target = document.getElementById("test-result");
      if (target) target.textContent = "Testing the connection…";
    });
  }

  async function afterSave() {
    if (!accountForm || !accountForm.dataset.accountId) return;
    const signIn = document.getElementById("oauth2-signin-button");
    if (sessionStorage.getItem(signInKey)) {
      sessionStorage.removeItem(signInKey);
      if (signIn) { window.location.assign(signIn.href); return; }
    }
    if (sessionStorage.getItem(testKey) !== accountForm.dataset.accountId) return;
    sessionStorage.removeItem(testKey);
    const target = document.getElementById("test-result");
    if (!target) return;
    target.textContent = "Account saved. Testing the connection…";
    let result;
    try { result = await api("POST", accountForm.dataset.testUrl); } catch (e) { result = { ok: false, data: null }; }
    if (!result.ok) {
      target.textContent = "Account saved. The connection test could not run: "
        + ((result.data && result.data.error && result.data.error.message) || "the server did not answer.");
      target.focus();
      return;
    }
    showResult(target, result.data);
    const heading = target.querySelector("p");
    if (heading) heading.textContent = "Account saved. " + heading.textContent;
  }
  afterSave();
})();
