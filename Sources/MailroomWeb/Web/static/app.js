// Mailroom's one script: sends forms to the JSON API, shows field errors, keeps the desk live.
// Plain JavaScript, no build step; loaded with `defer` from our own origin (the pages' CSP allows
// no other script and no inline script).
"use strict";

(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // ---------- Requests ----------

  async function api(method, url, body, extraHeaders) {
    const headers = Object.assign({ "X-CSRF-Token": csrf(), "Accept": "application/json" }, extraHeaders || {});
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      if (body instanceof Blob) {
        init.body = body;
      } else {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    const response = await fetch(url, init);
    let data = null;
    const text = await response.text();
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    return { ok: response.ok, status: response.status, data };
  }

  function toast(message) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => box.classList.remove("show"), 4000);
  }

  // ---------- Serialising a form to the API's JSON ----------
  // Names are paths ("incoming.auth.username"); "x[]" appends to a list; [data-list] holds
  // [data-item] rows serialised as a list of objects. data-type says how to read a value:
  // number, boolean, list (one entry per line or comma), json, string (the default).
  // data-omit-empty leaves a field out when empty (a password kept as it is); data-null-empty sends null.

  function setPath(target, path, value) {
    const parts = path.split(".");
    let node = target;
    for (let i = 0; i < parts.length - 1; i++) {
      if (typeof node[parts[i]] !== "object" || node[parts[i]] === null) node[parts[i]] = {};
      node = node[parts[i]];
    }
    const last = parts[parts.length - 1];
    if (last.endsWith("[]")) {
      const key = last.slice(0, -2);
      if (!Array.isArray(node[key])) node[key] = [];
      if (value !== undefined) node[key].push(value);
    } else if (value !== undefined) {
      node[last] = value;
    }
  }

  function readValue(el) {
    // A checkbox with a value attribute is one choice of a list (a queue's members); without one, a boolean.
    const type = el.dataset.type
      || (el.type === "number" ? "number" : el.type === "checkbox" && !el.hasAttribute("value") ? "boolean" : "string");
    if (el.type === "checkbox") {
      if (type === "boolean") return el.checked;
      return el.checked ? el.value : undefined; // a checkbox list ("x[]")
    }
    if (el.type === "radio") return el.checked ? el.value : undefined;
    if (el.tagName === "SELECT" && el.multiple) return Array.from(el.selectedOptions).map((o) => o.value);
    const raw = el.value;
    if (raw === "" && el.hasAttribute("data-omit-empty")) return undefined;
    if (raw === "" && (el.hasAttribute("data-null-empty") || type === "number")) return null;
    switch (type) {
      case "number": { const n = Number(raw); return Number.isFinite(n) ? n : raw; }
      case "boolean": return raw === "true";
      case "list": return raw.split(/[\n,]/).map((s) => s.trim()).filter((s) => s.length > 0);
      case "json":
        if (raw.trim() === "") return null;
        try { return JSON.parse(raw); } catch (e) { return raw; }
      case "auto": // a rule's value: true/false, a JSON object, or text
        if (raw === "true" || raw === "false") return raw === "true";
        if (/^\s*\{/.test(raw)) { try { return JSON.parse(raw); } catch (e) { return raw; } }
        return raw;
      default: return raw;
    }
  }

  function ownerItem(el) { const item = el.closest("[data-item]"); return item; }

  function serialise(root, isForm) {
    const out = {};
    const mine = (el) => { const owner = ownerItem(el); return isForm ? owner === null : owner === root; };
    root.querySelectorAll("[name]").forEach((el) => {
      if (!mine(el) || el.disabled || el.name === "_csrf" || el.closest("template")) return;
      if (el.type === "file" || el.type === "submit" || el.type === "button") return;
      const value = readValue(el);
      if (value === undefined && !el.name.endsWith("[]")) return;
      setPath(out, el.name, value);
    });
    root.querySelectorAll("[data-list]").forEach((list) => {
      const owner = list.parentElement ? list.parentElement.closest("[data-item]") : null;
      if (isForm ? owner !== null : owner !== root) return;
      if (list.closest("template")) return;
      const items = Array.from(list.querySelectorAll("[data-item]")).filter((i) => i.parentElement.closest("[data-list]") === list);
      // data-scalar: each row is one value (an ordered list of names), not an object.
      const scalar = list.hasAttribute("data-scalar");
      // data-require="name": rows whose control of that name is not chosen (an unticked member) are left out.
      const required = list.dataset.require;
      const rows = items.map((item) => serialise(item, false)).filter((row) => !required || row[required] !== undefined);
      setPath(out, list.dataset.list, rows.map((row) => (scalar ? Object.values(row)[0] : row)));
    });
    return out;
  }

  // ---------- Field errors ----------

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((e) => e.remove());
    form.querySelectorAll('[aria-invalid="true"]').forEach((e) => {
      e.removeAttribute("aria-invalid");
      const described = (e.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("err-")).join(" ");
      if (described) e.setAttribute("aria-describedby", described); else e.removeAttribute("aria-describedby");
    });
    const alert = formAlert(form);
    if (alert) alert.textContent = "";
  }

  // Where a form's general errors go: its own [data-form-error], or the element data-error-target
  // names (forms inside live regions, whose content is replaced after the error).
  function formAlert(form) {
    return form.querySelector("[data-form-error]") || (form.dataset.errorTarget && document.getElementById(form.dataset.errorTarget)) || null;
  }

  // "conditions[1].value" -> the control named "value" in row 2 of the list "conditions".
  function findControl(form, field) {
    if (!field) return null;
    // Several controls may share a name, one shown at a time (a rule condition's value): the enabled one.
    const named = Array.from(form.querySelectorAll(`[name="${CSS.escape(field)}"], [name="${CSS.escape(field)}[]"], [data-field="${CSS.escape(field)}"]`));
    const direct = named.find((el) => !el.disabled) || named[0];
    if (direct) return direct;
    const match = field.match(/^(.*?)\[(\d+)\](?:\.(.*))?$/);
    if (match) {
      const list = form.querySelector(`[data-list="${CSS.escape(match[1])}"]`);
      if (list) {
        const items = Array.from(list.querySelectorAll("[data-item]")).filter((i) => i.parentElement.closest("[data-list]") === list);
        const item = items[Number(match[2])];
        if (item) return (match[3] ? findControl(item, match[3]) : null) || item.querySelector("[name]") || item;
      }
      const listControl = form.querySelector(`[name="${CSS.escape(match[1])}"], [name="${CSS.escape(match[1])}[]"]`);
      if (listControl) return listControl;
    }
    // A nested field we have no control for: show it at its parent's control, if any.
    const dot = field.lastIndexOf(".");
    return dot > 0 ? findControl(form, field.slice(0, dot)) : null;
  }

  // The words of a control's label, without hints in brackets or the options of a select inside it.
  function labelName(control) {
    const label = (control.id && document.querySelector(`label[for="${CSS.escape(control.id)}"]`)) || control.closest("label");
    if (!label) return "";
    const text = Array.from(label.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(" ");
    return text.split("(")[0].replace(/\s+/g, " ").trim();
  }

  // The API says "dispositionId is required: ..."; next to the field it reads "Disposition is required: ...".
  function fieldMessage(control, problem, error) {
    let message = problem.message || (error && error.message) || "is not valid";
    const field = problem.field || (error && error.field);
    if (!(error && error.details && error.details.length > 0) && field && message.startsWith(field + " ")) {
      message = message.slice(field.length + 1);
    }
    // The form's own words for a missing value ("Write a message or choose a canned answer").
    if (control.dataset && control.dataset.requiredMessage && /^is required\b/.test(message)) return control.dataset.requiredMessage;
    // API names in brackets ("(or html, or cannedAnswerId)") mean nothing next to a form's field.
    message = message.replace(/\s*\((?:or )?[^()]*[a-z][A-Z][^()]*\)/g, "");
    const name = labelName(control);
    return name ? `${name} ${message}` : message.charAt(0).toUpperCase() + message.slice(1);
  }

  let errorCounter = 0;
  function showErrors(form, error) {
    const problems = (error && Array.isArray(error.details) && error.details.length > 0)
      ? error.details
      : [{ field: error && error.field, message: (error && error.message) || "The request failed." }];
    const unplaced = [];
    let first = null;
    problems.forEach((problem) => {
      const control = findControl(form, problem.field);
      if (!control) {
        // "id" is the item the form acts on (an offer): name it as the page does.
        const subject = problem.field === "id" && form.dataset.subject ? form.dataset.subject : problem.field;
        unplaced.push(subject ? `${subject} ${problem.message}` : problem.message);
        return;
      }
      const id = `err-${++errorCounter}`;
      const note = document.createElement("p");
      note.className = "field-error";
      note.id = id;
      note.textContent = fieldMessage(control, problem, error);
      const container = control.closest(".field") || control;
      container.appendChild(note);
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + id).trim());
      if (!first) first = control;
    });
    const alert = formAlert(form);
    if (unplaced.length > 0 || !first) {
      const text = unplaced.length > 0 ? unplaced.join("; ") : "Please correct the marked fields.";
      if (alert) { alert.textContent = text; } else { toast(text); }
    } else if (alert) {
      alert.textContent = problems.length > 1 ? `Please correct the ${problems.length} marked fields.` : "Please correct the marked field.";
    }
    if (first) reveal(first);
    (first || alert || form).focus && (first || alert || form).focus();
  }

  // A control inside folded sections (<details>) is shown before it is focused or pointed at.
  function reveal(el) {
    for (let box = el.closest("details"); box; box = box.parentElement && box.parentElement.closest("details")) box.open = true;
  }

  // ---------- Submitting ----------

  // Password fields typed twice (Ameyo's "confirm password"): [data-confirms="id-of-the-password"].
  function confirmationProblems(form) {
    const problems = [];
    form.querySelectorAll("input[data-confirms]").forEach((confirm) => {
      const original = document.getElementById(confirm.dataset.confirms);
      if (!original || original.disabled || confirm.disabled) return;
      if (original.value !== confirm.value) {
        problems.push({ field: confirm.dataset.field, message: original.value === "" ? "is typed but the password above is empty" : "does not match the password above" });
      }
    });
    return problems;
  }

  // A <dialog> with buttons valued "yes" and "no": resolves true for yes, false for no or Escape.
  function askDialog(dialog) {
    return new Promise((resolve) => {
      if (!dialog || typeof dialog.showModal !== "function") { resolve(window.confirm(dialog ? dialog.textContent : "")); return; }
      const done = (answer) => {
        dialog.removeEventListener("click", onClick);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      const onClick = (event) => {
        const button = event.target.closest("button[value]");
        if (button) done(button.value === "yes");
      };
      const onCancel = (event) => { event.preventDefault(); done(false); };
      dialog.addEventListener("click", onClick);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
    });
  }

  async function submitForm(form, submitter) {
    const confirmation = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (confirmation && !window.confirm(confirmation)) return;
    if (form.dataset.confirmDialog && !(await askDialog(document.getElementById(form.dataset.confirmDialog)))) return;
    clearErrors(form);
    const mismatched = submitter && submitter.dataset.api ? [] : confirmationProblems(form);
    if (mismatched.length > 0) { showErrors(form, { details: mismatched }); return; }
    const method = ((submitter && submitter.dataset.method) || form.dataset.method || "POST").toUpperCase();
    const url = (submitter && submitter.dataset.api) || form.dataset.api;
    const body = form.hasAttribute("data-no-body") ? undefined : serialise(form, true);
    // Page scripts may shape the JSON before it is sent (settings.js: a rule's header condition).
    if (body) form.dispatchEvent(new CustomEvent("mailroom:serialised", { detail: body, bubbles: true }));
    if (body && submitter && submitter.name && submitter.value) setPath(body, submitter.name, submitter.value);
    // Attachment rows hold {id}; the API wants a list of ids.
    if (body && Array.isArray(body.attachmentIds)) body.attachmentIds = body.attachmentIds.map((a) => (a && a.id) || a);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    let result;
    try {
      result = await api(method, url, method === "GET" || method === "DELETE" ? undefined : body);
    } catch (e) {
      result = { ok: false, status: 0, data: { error: { message: "The server could not be reached. Check the connection and try again." } } };
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    if (!result.ok) {
      showErrors(form, result.data && result.data.error);
      form.dispatchEvent(new CustomEvent("mailroom:failed", { detail: result, bubbles: true }));
      return;
    }
    form.dispatchEvent(new CustomEvent("mailroom:saved", { detail: result.data, bubbles: true }));
    // Actions whose answer says what happened in words: shown where the action was, without a reload.
    if (form.hasAttribute("data-show-message") && result.data && result.data.message) {
      const scope = form.closest("tr") || form.closest("main") || document;
      const status = scope.querySelector("[data-row-status]");
      if (status) { status.textContent = result.data.message; status.hidden = false; }
      if (result.data.result !== "quarantined") form.remove();
      toast(result.data.message);
      return;
    }
    const resultTarget = (submitter && submitter.dataset.showResult) || form.dataset.showResult;
    if (resultTarget) { showResult(document.getElementById(resultTarget), result.data); return; }
    const redirect = (submitter && submitter.dataset.redirect) || form.dataset.redirect;
    if (redirect) {
      const id = result.data && result.data.id ? encodeURIComponent(result.data.id) : "";
      window.location.assign(redirect.replace("{id}", id));
    } else if (form.hasAttribute("data-reload")) {
      window.location.reload();
    } else {
      const status = form.querySelector("[data-form-status]");
      const message = form.dataset.success || "Saved.";
      if (status) status.textContent = message;
      toast(message);
    }
  }

  // The connection test's report: each server, each step with its outcome, time and message.
  function showResult(target, data) {
    if (!target) return;
    target.textContent = "";
    const heading = document.createElement("p");
    // A failure names what failed at once (the steps follow): "Incoming, log in: ...".
    const failed = [];
    ["incoming", "outgoing"].forEach((side) => {
      const report = data && data[side];
      const step = report && (report.steps || []).find((s) => s.outcome !== "ok");
      if (step) failed.push(`${side === "incoming" ? "Incoming" : "Outgoing"}, ${step.label || step.name}${step.message ? ": " + step.message : ""}`);
    });
    heading.textContent = data && data.ok ? "Connection test passed."
      : failed.length > 0 ? `Connection test failed. ${failed.join(". ")}` : "Connection test failed.";
    heading.className = data && data.ok ? "notice" : "alert";
    heading.setAttribute("role", "status");
    target.appendChild(heading);
    ["incoming", "outgoing"].forEach((side) => {
      const report = data && data[side];
      if (!report) return;
      const title = document.createElement("h3");
      title.textContent = `${side === "incoming" ? "Incoming" : "Outgoing"}: ${report.protocolName} ${report.host}:${report.port}`;
      const list = document.createElement("ol");
      list.className = "steps";
      (report.steps || []).forEach((step) => {
        const item = document.createElement("li");
        item.className = step.outcome === "ok" ? "ok" : "failed";
        item.textContent = `${step.label || step.name} (${step.durationMilliseconds} ms)${step.message ? ": " + step.message : ""}`;
        list.appendChild(item);
      });
      target.append(title, list);
    });
    // The result is where the person is looking (the account form's action bar): focused, announced.
    if (target.hasAttribute("tabindex")) { target.scrollTop = 0; target.focus(); }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    event.preventDefault();
    submitForm(form, event.submitter);
  });

  // ---------- Rows: add, remove, reorder ----------

  function renumber(list) {
    Array.from(list.querySelectorAll("[data-item]")).forEach((item, index) => {
      item.querySelectorAll("[data-position]").forEach((p) => { p.textContent = String(index + 1); });
    });
  }

  function uniqueIds(fragment) {
    const suffix = "-" + Math.random().toString(36).slice(2, 8);
    fragment.querySelectorAll("[id]").forEach((el) => {
      const old = el.id;
      el.id = old + suffix;
      fragment.querySelectorAll(`label[for="${CSS.escape(old)}"]`).forEach((l) => { l.htmlFor = el.id; });
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.addRow) {
      const list = document.querySelector(`[data-list="${CSS.escape(button.dataset.addRow)}"]`)
        || document.getElementById(button.dataset.addRow);
      const template = document.querySelector(`template[data-row-for="${CSS.escape(button.dataset.addRow)}"]`);
      if (!list || !template) return;
      const fragment = template.content.cloneNode(true);
      uniqueIds(fragment);
      const first = fragment.querySelector("input, select, textarea");
      list.appendChild(fragment);
      renumber(list);
      refreshConditional(list);
      if (first) first.focus();
    } else if (button.hasAttribute("data-remove-row")) {
      const item = button.closest("[data-item]");
      const list = item && item.parentElement;
      if (item) item.remove();
      if (list) renumber(list);
    } else if (button.dataset.move) {
      const item = button.closest("[data-item]");
      if (!item) return;
      if (button.dataset.move === "up" && item.previousElementSibling) item.parentElement.insertBefore(item, item.previousElementSibling);
      if (button.dataset.move === "down" && item.nextElementSibling) item.parentElement.insertBefore(item.nextElementSibling, item);
      renumber(item.parentElement);
      button.focus();
    }
  });

  // ---------- Conditional sections, presets ----------
  // [data-show-when="name=value"] is shown only while the named control has that value.

  function refreshConditional(root) {
    (root || document).querySelectorAll("[data-show-when]").forEach((el) => {
      const [name, expected] = el.dataset.showWhen.split("=");
      const scope = el.closest("[data-item]") || el.closest("form") || document;
      const control = scope.querySelector(`[name="${CSS.escape(name)}"]`);
      if (!control) return;
      const value = control.type === "checkbox" ? String(control.checked) : control.value;
      // Inside a hidden section (the server settings of a preset service) nothing is shown or sent.
      const outer = el.parentElement && el.parentElement.closest("[data-show-when]");
      const shown = expected.split("|").includes(value) && !(outer && outer.hidden);
      el.hidden = !shown;
      el.querySelectorAll("input, select, textarea").forEach((c) => {
        if (!c.hasAttribute("data-locked")) c.disabled = !shown;
      });
    });
  }

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.matches && el.matches("select[data-insert-canned]") && el.value) insertCanned(el);
    if (el.matches && el.matches("select[data-preview]")) {
      const target = document.getElementById(el.dataset.preview);
      const option = el.selectedOptions[0];
      if (target) target.textContent = option ? option.dataset.text || "" : "";
    }
    refreshConditional();
  });

  // A canned answer, rendered for this ticket by the server, goes into the message at the cursor:
  // the agent sees every word that will be sent and can change it; nothing is added on sending.
  async function insertCanned(select) {
    const editor = document.getElementById(select.dataset.insertInto);
    const hint = document.getElementById(select.getAttribute("aria-describedby"));
    const url = select.dataset.insertCanned + encodeURIComponent(select.value) + "/rendered";
    select.disabled = true;
    let result;
    try { result = await api("GET", url); } catch (e) { result = { ok: false, data: null }; }
    select.disabled = false;
    select.value = "";
    if (!result.ok || !editor) {
      const message = (result.data && result.data.error && result.data.error.message) || "The canned answer could not be loaded. Try again.";
      if (hint) hint.textContent = message;
      toast(message);
      return;
    }
    const text = result.data.text || "";
    const start = editor.selectionStart ?? editor.value.length, end = editor.selectionEnd ?? editor.value.length;
    const before = editor.value.slice(0, start), after = editor.value.slice(end);
    const lead = before && !before.endsWith("\n\n") ? (before.endsWith("\n") ? "\n" : "\n\n") : "";
    const trail = after && !after.startsWith("\n") ? "\n\n" : "";
    editor.value = before + lead + text + trail + after;
    const caret = (before + lead + text).length;
    editor.focus();
    editor.setSelectionRange(caret, caret);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Character counters: <input data-count="id-of-output" maxlength="52">.
  document.addEventListener("input", (event) => {
    const el = event.target;
    if (!el.dataset || !el.dataset.count) return;
    const out = document.getElementById(el.dataset.count);
    if (out) out.textContent = `${el.value.length} of ${el.maxLength} characters`;
  });

  // ---------- Uploads (reply attachments) ----------

  document.addEventListener("change", async (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.upload) return;
    const list = document.getElementById(input.dataset.upload);
    for (const file of Array.from(input.files || [])) {
      const url = "/api/v1/attachments?filename=" + encodeURIComponent(file.name);
      const result = await api("POST", url, file, { "Content-Type": file.type || "application/octet-stream" });
      if (!result.ok) { toast((result.data && result.data.error && result.data.error.message) || "The upload failed."); continue; }
      const item = document.createElement("li");
      item.setAttribute("data-item", "");
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "id";
      hidden.value = result.data.id;
      const label = document.createElement("span");
      label.textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB) `;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.setAttribute("data-remove-row", "");
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove ${file.name}`);
      item.append(hidden, label, remove);
      list.appendChild(item);
    }
    input.value = "";
  });

  // ---------- Message frames ----------
  // The message HTML is in a sandboxed frame without scripts; we size it to its content.

  function sizeFrame(frame) {
    try {
      const doc = frame.contentDocument;
      if (doc && doc.documentElement) frame.style.height = Math.min(doc.documentElement.scrollHeight + 16, 5000) + "px";
    } catch (e) { /* another origin: keep the default height */ }
  }
  document.querySelectorAll("iframe[data-autosize]").forEach((frame) => {
    frame.addEventListener("load", () => sizeFrame(frame));
    sizeFrame(frame);
  });

  // ---------- Live updates ----------
  // Regions marked [data-live-src] are fetched again (server-rendered HTML) when one of the event
  // types in [data-live-on] arrives. New offers get the account's notification: its text (the
  // template, rendered by the server), a sound and a shake, as the account's settings say. Screen
  // readers hear of changes through the toast (role=status); focus stays where it was, or moves
  // to the region's heading when the focused control went away.

  function beep() {
    try {
      const Audio = window.AudioContext || window.webkitAudioContext;
      if (!Audio) return;
      const ctx = new Audio();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
      document.body.dataset.lastSound = String(Date.now());
    } catch (e) { /* no audio: the visual notice remains */ }
  }

  const seenOffers = new Set(Array.from(document.querySelectorAll("[data-offer]")).map((o) => o.dataset.offer));
  // What the page knew of each offer, to say which ticket an offer that went away was for.
  const offerNumbers = new Map(Array.from(document.querySelectorAll("[data-offer]")).map((o) => [o.dataset.offer, o.dataset.number]));

  function announceOffers(region) {
    const fresh = [];
    region.querySelectorAll("[data-offer]").forEach((offer) => {
      offerNumbers.set(offer.dataset.offer, offer.dataset.number);
      if (seenOffers.has(offer.dataset.offer)) return;
      seenOffers.add(offer.dataset.offer);
      fresh.push(offer);
      if (offer.dataset.sound === "true") beep();
      if (offer.dataset.shake === "true") {
        offer.classList.remove("shake");
        void offer.offsetWidth; // restart the animation
        offer.classList.add("shake");
      }
    });
    if (fresh.length > 0) {
      const text = fresh.map((o) => o.dataset.notification || `New ticket #${o.dataset.number} offered`).join(" · ");
      document.body.dataset.lastNotification = text;
      toast(text);
    }
  }

  const goneReasons = {
    taken: "another agent accepted it",
    expired: "the time to answer ran out",
    waitEnded: "it went on to others",
    cancelled: "it was rerouted, transferred or closed",
  };

  async function refreshRegion(region) {
    try {
      const response = await fetch(region.dataset.liveSrc, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (!response.ok) return;
      const html = await response.text();
      const active = document.activeElement;
      const hadFocus = active && active !== document.body && region.contains(active);
      const focusedId = hadFocus ? active.id : null;
      const focusedHref = hadFocus ? active.getAttribute("href") : null;
      region.innerHTML = html; // our own server-rendered, escaped HTML
      refreshConditional(region);
      announceOffers(region);
      updateCountdowns();
      if (hadFocus) {
        // The same control again (by id, or a link by its address), else the region's heading, else the region.
        const again = (focusedId && document.getElementById(focusedId))
          || (focusedHref && region.querySelector(`a[href="${CSS.escape(focusedHref)}"]`))
          || (region.dataset.focusFallback && document.getElementById(region.dataset.focusFallback));
        if (again) {
          again.focus();
        } else {
          region.setAttribute("tabindex", "-1");
          region.focus();
        }
      }
      region.dispatchEvent(new CustomEvent("mailroom:refreshed", { bubbles: true }));
    } catch (e) { /* offline: the next event or reload will catch up */ }
  }

  // "answer within 25 s" next to each offer's deadline.
  function updateCountdowns() {
    const now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach((el) => {
      const deadline = Date.parse(el.getAttribute("datetime"));
      if (!Number.isFinite(deadline)) return;
      const seconds = Math.max(0, Math.round((deadline - now) / 1000));
      if (!el.dataset.absolute) el.dataset.absolute = el.textContent;
      el.textContent = seconds > 0 ? `${el.dataset.absolute} (${seconds} s left)` : `${el.dataset.absolute} (time is up)`;
    });
  }

  // Presence: the desk's control and every summary of the signed-in agent follow the live state
  // (the server pauses an agent who must choose a disposition, a supervisor may change it).
  function presenceSummary(state, reason) {
    if (state === "online") return "You are online: new tickets are offered to you.";
    if (state === "paused") return `You are paused${reason ? ` (${reason})` : ""}: no new tickets are offered to you.`;
    return "You are offline: no tickets are offered to you.";
  }

  function applyPresence(data) {
    if (!data || !data.userId) return;
    document.querySelectorAll(`[data-presence-summary="${CSS.escape(data.userId)}"]`).forEach((el) => {
      el.textContent = presenceSummary(data.state, data.reason);
    });
    document.querySelectorAll(`form[data-presence-of="${CSS.escape(data.userId)}"]`).forEach((form) => {
      // Someone choosing a new state keeps their choice until they submit.
      if (form.contains(document.activeElement) && document.activeElement !== form.querySelector("button")) return;
      const select = form.querySelector('[name="state"]');
      const reason = form.querySelector('[name="reason"]');
      if (select) select.value = data.state;
      if (reason) reason.value = data.reason || "";
      refreshConditional(form);
    });
  }

  // The ticket page does not reload on its own (a reply may be half written): its summary, thread
  // and history are live regions that follow the ticket's events in place, and a notice says what changed.
  function eventTicketId(type, data) {
    if (!data) return null;
    if (type === "ticket") return data.id || null;
    return data.ticketId || (data.ticket && data.ticket.id) || null;
  }

  function ticketNotice(type, data) {
    const box = document.querySelector("[data-ticket-page]");
    if (!box || !data) return;
    const id = box.dataset.ticketPage;
    if (eventTicketId(type, data) !== id) return;
    let text = null;
    let anchor = null;
    if (type === "message") {
      text = data.direction === "in" ? "A new message from the customer arrived; it is shown below." : "A reply was added to this ticket.";
      if (data.messageId) anchor = "#message-" + data.messageId;
    } else if (type === "ticket") {
      // Only a change the agent can see (status, holder, tags) is worth a notice.
      const state = [data.status || "", data.agentId || "", (data.tags || []).join(", ")].join("|");
      if (box.dataset.state === state) return;
      box.dataset.state = state;
      text = `This ticket changed: it is ${data.status || "updated"}${data.agentId ? "" : ", with no agent"}. The page shows it now.`;
    }
    // The page's own read-mark changes are not news (and, with the state check, no ticket notice follows them).
    if (!text || (type !== "ticket" && box.dataset.suppress === type)) return;
    box.textContent = text + " ";
    if (anchor) {
      const link = document.createElement("a");
      link.href = anchor;
      link.textContent = "Show it";
      box.appendChild(link);
    }
    box.hidden = false;
    document.body.dataset.lastTicketNotice = text;
  }

  // Regions of one ticket ([data-live-ticket]) follow only that ticket's events.
  function regionWants(region, type, data) {
    if (!(region.dataset.liveOn || "").split(" ").includes(type)) return false;
    return !region.dataset.liveTicket || region.dataset.liveTicket === eventTicketId(type, data);
  }

  // Message frames that arrive with a refreshed thread size themselves like those of the first load.
  document.addEventListener("mailroom:refreshed", (event) => {
    const region = event.target;
    if (!region || !region.querySelectorAll) return;
    region.querySelectorAll("iframe[data-autosize]").forEach((frame) => {
      frame.addEventListener("load", () => sizeFrame(frame));
      sizeFrame(frame);
    });
  });

  function parse(event) {
    try { return JSON.parse(event.data); } catch (e) { return null; }
  }

  function startLive() {
    if (document.body.dataset.live !== "on" || !window.EventSource) return;
    const regions = Array.from(document.querySelectorAll("[data-live-src]"));
    const source = new EventSource("/api/v1/events");
    const types = ["offer", "offerTaken", "message", "ticket", "presence"];
    types.forEach((type) => {
      source.addEventListener(type, (event) => {
        const data = parse(event);
        document.body.dataset.lastEvent = type;
        if (type === "presence") applyPresence(data);
        if (type === "offerTaken" && data && seenOffers.has(data.id) && document.querySelector(`[data-offer="${CSS.escape(data.id)}"]`)) {
          const number = offerNumbers.get(data.id);
          toast(`The offer of #${number || "?"} is no longer open: ${goneReasons[data.reason] || "it ended"}.`);
        }
        ticketNotice(type, data);
        regions.filter((r) => regionWants(r, type, data)).forEach(refreshRegion);
      });
    });
    // The server could not replay what we missed: fetch every region again.
    source.addEventListener("reset", () => regions.forEach(refreshRegion));
    source.onopen = () => {
      // Events published while the stream was (re)connecting are not replayed to a new stream:
      // catch up once it is open.
      if (document.body.dataset.liveState) regions.forEach(refreshRegion);
      else regions.filter((r) => (r.dataset.liveOn || "").includes("offer")).forEach(refreshRegion);
      document.body.dataset.liveState = "open";
    };
    source.onerror = () => { document.body.dataset.liveState = "retrying"; };
    window.mailroomEvents = source;
  }

  // Regions that are refreshed after a form in them saved something (reject), or failed (an offer
  // someone else took: the error stays in the region's alert, outside the refreshed part).
  document.addEventListener("mailroom:saved", (event) => {
    const region = event.target.closest && event.target.closest("[data-live-src]");
    if (region) refreshRegion(region);
    if (event.target.matches && event.target.matches("form[data-presence-of]") && event.detail) applyPresence(event.detail);
  });
  document.addEventListener("mailroom:failed", (event) => {
    const region = event.target.closest && event.target.closest("[data-live-src]");
    if (region) refreshRegion(region);
  });

  // The read-mark form flips in place (a reload would mark an unread ticket read again on opening).
  function showReadMark(form, unread) {
    const base = form.dataset.api.replace(/\/(read|unread)$/, "");
    form.dataset.api = base + (unread ? "/read" : "/unread");
    const button = form.querySelector("button");
    if (button) button.textContent = unread ? "Mark as read" : "Mark as unread";
    const badge = document.getElementById("unread-badge");
    if (badge) badge.hidden = !unread;
  }

  document.addEventListener("mailroom:saved", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "read-form" || !event.detail) return;
    const box = document.querySelector("[data-ticket-page]");
    if (box) { box.dataset.suppress = "ticket"; setTimeout(() => { delete box.dataset.suppress; }, 3000); }
    showReadMark(form, event.detail.unread === true);
  });

  // An unread ticket the agent holds is marked read when they open it.
  async function markReadOnOpen() {
    const form = document.querySelector("form[data-mark-read-on-open]");
    if (!form) return;
    const box = document.querySelector("[data-ticket-page]");
    if (box) box.dataset.suppress = "ticket"; // our own change comes back as a ticket event
    const result = await api("POST", form.dataset.markReadOnOpen).catch(() => ({ ok: false }));
    if (result.ok) showReadMark(form, false);
    setTimeout(() => { if (box) delete box.dataset.suppress; }, 3000);
  }

  refreshConditional();
  updateCountdowns();
  setInterval(updateCountdowns, 1000);
  startLive();
  markReadOnOpen();

  // For account-editor.js, served after this file as part of the same script.
  window.Mailroom = { api, toast, labelName, refreshConditional, renumber, askDialog, showResult, reveal };
})();
