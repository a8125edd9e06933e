// The commands an operator can send about a user, which ones each state
// offers, and the dialog that asks for the reason and shows the outcome.
import { h, replace } from "./dom.js";
import * as api from "./api.js";

export const ACTIONS = {
  confirm: {
    label: "Confirm user",
    verb: "Confirm",
    title: "Confirm this user?",
    explain: "The pending user is marked as confirmed and can sign in.",
    reasonRequired: false,
  },
  disable: {
    label: "Disable user",
    verb: "Disable user",
    title: "Disable this user?",
    explain:
      "The user can no longer sign in, and every session and token issued until now is revoked. You can enable the user again later.",
    reasonRequired: true,
    danger: true,
  },
  enable: {
    label: "Enable user",
    verb: "Enable user",
    title: "Enable this user?",
    explain: "The user can sign in again. Sessions revoked when the user was disabled stay revoked.",
    reasonRequired: false,
  },
  "revoke-sessions": {
    label: "Revoke all sessions",
    verb: "Revoke sessions",
    title: "Revoke all sessions?",
    explain:
      "Every session and token issued to the user until now stops working; the user has to sign in again. The account itself does not change.",
    reasonRequired: false,
  },
  delete: {
    label: "Delete user",
    verb: "Delete user",
    title: "Delete this user?",
    explain:
      "The account is deleted for good and all its sessions are revoked. The user id is never reused; the history stays in the audit log. This cannot be undone.",
    reasonRequired: true,
    danger: true,
  },
};

// The seed's rule: a pending user can only be confirmed or deleted.
const byState = {
  pending: ["confirm", "delete"],
  confirmed: ["disable", "revoke-sessions", "delete"],
  disabled: ["enable", "revoke-sessions", "delete"],
};

export function actionsFor(state) {
  return byState[state] || [];
}

// outcomeView shows a command's outcome inside a dialog.
function outcomeView(o, what) {
  switch (o.status) {
    case "accepted":
      return h(
        "div",
        { class: "outcome outcome-accepted", role: "status", dataset: { outcome: "accepted" } },
        h("strong", {}, "Accepted. "),
        what,
        o.event_seq ? h("span", { class: "muted" }, ` Event #${o.event_seq}.`) : null,
      );
    case "unchanged":
      return h(
        "div",
        { class: "outcome outcome-unchanged", role: "status", dataset: { outcome: "unchanged" } },
        h("strong", {}, "Unchanged. "),
        o.message ? `${o.message.replace(/\.$/, "")}; nothing was recorded.` : "The user was already in that state; nothing was recorded.",
      );
    case "pending":
      return h(
        "div",
        { class: "outcome outcome-pending", role: "status", dataset: { outcome: "pending" } },
        h("strong", {}, "Sent. "),
        `The command (${o.command_id}) has no outcome yet; the page updates when it is processed.`,
      );
    default:
      return h(
        "div",
        { class: "outcome outcome-rejected", role: "alert", dataset: { outcome: "rejected" } },
        h("strong", {}, "Rejected. "),
        o.detail || "The server refused the command.",
        o.code ? h("span", { class: "code" }, o.code) : null,
      );
  }
}

// modal builds a <dialog>, shows it, and removes it when it closes.
function modal(titleText, body, onClose) {
  const dlg = h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" });
  dlg.append(h("h2", { id: "dialog-title" }, titleText), body);
  dlg.addEventListener("close", () => {
    dlg.remove();
    onClose && onClose();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  return dlg;
}

// confirmAction asks for the reason, sends the command and shows its
// outcome; onDone runs when the dialog closes after a command was sent.
export function confirmAction(action, user, onDone) {
  const a = ACTIONS[action];
  let sent = null;
  const reason = h("textarea", {
    id: "reason",
    name: "reason",
    rows: 3,
    maxlength: 1000,
    required: a.reasonRequired,
    placeholder: a.reasonRequired ? "Why? Recorded in the user's history." : "Optional. Recorded in the user's history.",
  });
  const result = h("div", { class: "dialog-result" });
  const cancel = h("button", { type: "button", class: "btn", value: "cancel" }, "Cancel");
  const submit = h("button", { type: "submit", class: a.danger ? "btn btn-danger" : "btn btn-primary" }, a.verb);
  const actions = h("div", { class: "dialog-actions" }, cancel, submit);
  const form = h(
    "form",
    { method: "dialog", class: "dialog-form", novalidate: true },
    h("p", { class: "dialog-subject" }, h("span", { class: "subject-email" }, user.email), h("span", { class: "mono muted" }, user.id)),
    h("p", { class: "dialog-explain" }, a.explain),
    h(
      "label",
      { for: "reason", class: "field-label" },
      "Reason ",
      h("span", { class: "muted" }, a.reasonRequired ? "(required)" : "(optional)"),
    ),
    reason,
    h("p", { class: "field-error", id: "reason-error", hidden: true }, "Enter a reason: it is recorded with your name."),
    result,
    actions,
  );
  const dlg = modal(a.title, form, () => sent && onDone && onDone(sent));
  cancel.addEventListener("click", () => dlg.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (sent) {
      dlg.close();
      return;
    }
    const why = reason.value.trim();
    const err = form.querySelector("#reason-error");
    if (a.reasonRequired && !why) {
      err.hidden = false;
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    err.hidden = true;
    reason.removeAttribute("aria-invalid");
    submit.disabled = cancel.disabled = reason.disabled = true;
    submit.textContent = "Sending…";
    try {
      sent = await api.userAction(user.id, action, why);
    } catch (e) {
      sent = { status: "rejected", detail: e.message, code: e.code };
    }
    replace(result, outcomeView(sent, `${a.label} for ${user.email}.`));
    replace(actions, h("button", { type: "submit", class: "btn btn-primary", autofocus: true }, "Close"));
    actions.querySelector("button").focus();
  });
  reason.focus();
}

// registerUser asks for an email (and optionally an id and a reason) and
// registers the user.
export function registerUser(onDone) {
  let sent = null;
  const email = h("input", { id: "reg-email", name: "email", type: "email", required: true, autocomplete: "off", placeholder: "name@example.com" });
  const userId = h("input", { id: "reg-id", name: "user_id", type: "text", autocomplete: "off", placeholder: "Leave empty to generate one" });
  const reason = h("textarea", { id: "reg-reason", name: "reason", rows: 2, maxlength: 1000, placeholder: "Optional. Recorded in the user's history." });
  const result = h("div", { class: "dialog-result" });
  const cancel = h("button", { type: "button", class: "btn" }, "Cancel");
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Register user");
  const actions = h("div", { class: "dialog-actions" }, cancel, submit);
  const err = h("p", { class: "field-error", hidden: true }, "Enter the user's email address.");
  const form = h(
    "form",
    { method: "dialog", class: "dialog-form", novalidate: true },
    h("p", { class: "dialog-explain" }, "The new user starts as pending until confirmed."),
    h("label", { for: "reg-email", class: "field-label" }, "Email ", h("span", { class: "muted" }, "(required)")),
    email,
    err,
    h("label", { for: "reg-id", class: "field-label" }, "User id ", h("span", { class: "muted" }, "(optional)")),
    userId,
    h("label", { for: "reg-reason", class: "field-label" }, "Reason ", h("span", { class: "muted" }, "(optional)")),
    reason,
    result,
    actions,
  );
  const dlg = modal("Register user", form, () => sent && onDone && onDone(sent));
  cancel.addEventListener("click", () => dlg.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (sent && sent.status !== "rejected") {
      dlg.close();
      return;
    }
    const addr = email.value.trim();
    if (!addr) {
      err.hidden = false;
      email.focus();
      return;
    }
    err.hidden = true;
    submit.disabled = cancel.disabled = true;
    submit.textContent = "Registering…";
    try {
      sent = await api.register(addr, userId.value.trim(), reason.value.trim());
    } catch (e) {
      sent = { status: "rejected", detail: e.message, code: e.code };
    }
    const link = h("a", { href: "#/users/" + encodeURIComponent(sent.user_id || ""), class: "mono" }, sent.user_id || "");
    link.addEventListener("click", () => dlg.close());
    const what = h("span", {}, `Registered ${addr} as `, link, ".");
    replace(result, outcomeView(sent, what));
    submit.disabled = cancel.disabled = false;
    if (sent.status === "rejected") {
      submit.textContent = "Register user";
      return;
    }
    replace(actions, h("button", { type: "submit", class: "btn btn-primary" }, "Close"));
    actions.querySelector("button").focus();
  });
  email.focus();
}
