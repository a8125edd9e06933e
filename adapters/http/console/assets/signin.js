// The sign-in page: an admin token in, a session cookie out.
import { h } from "./dom.js";
import * as api from "./api.js";

export function signInView(onSignedIn, notice) {
  const token = h("input", {
    id: "token",
    name: "token",
    type: "password",
    required: true,
    autocomplete: "current-password",
    spellcheck: "false",
    placeholder: "Paste your admin token",
  });
  const error = h("p", { class: "form-error", role: "alert", id: "signin-error", hidden: !notice }, notice || "");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "signin" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true },
    h("label", { for: "token", class: "field-label" }, "Admin token"),
    token,
    error,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const t = token.value.trim();
    if (!t) {
      error.textContent = "Enter your admin token.";
      error.hidden = false;
      token.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const s = await api.signIn(t);
      token.value = "";
      onSignedIn(s);
    } catch (e) {
      error.textContent = e.status === 401 ? "That token is not valid. Check it and try again." : e.message;
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = "Sign in";
      token.select();
    }
  });
  const el = h(
    "main",
    { class: "signin" },
    h(
      "div",
      { class: "signin-card" },
      h("div", { class: "brand brand-large" }, h("img", { src: "/assets/favicon.svg", alt: "", width: 36, height: 36 }), h("span", {}, "userlife")),
      h("h1", {}, "Sign in to the console"),
      h("p", { class: "muted" }, "Use the token an administrator gave you. Its role decides what you can do: admins manage users, viewers can only look."),
      form,
      h(
        "p",
        { class: "hint" },
        "Tokens are set on the server: one ",
        h("code", {}, "<token> <actor> <role>"),
        " line each in the file given to ",
        h("code", {}, "serve --admin-tokens-file"),
        ".",
      ),
    ),
  );
  return { el, focus: () => token.focus() };
}
