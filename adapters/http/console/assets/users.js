// The users page: a tab per state, search by email prefix, keyset paging
// and a "…" menu on each row.
import { h, replace, time, userHref } from "./dom.js";
import * as api from "./api.js";
import { ACTIONS, actionsFor, confirmAction, registerUser } from "./actions.js";
import { rowMenu } from "./menu.js";

const TABS = [
  { state: "confirmed", label: "Confirmed" },
  { state: "pending", label: "Pending" },
  { state: "disabled", label: "Disabled" },
];
const PAGE = 20;

// pageSize reads #/users?limit=N (1–200), default PAGE.
function pageSize(params) {
  const n = Number.parseInt(params.get("limit") || "", 10);
  return n >= 1 && n <= 200 ? n : PAGE;
}

export function usersView(ctx, params) {
  const state = TABS.some((t) => t.state === params.get("state")) ? params.get("state") : "confirmed";
  let email = params.get("email") || "";
  const limit = pageSize(params);
  // cursors[i] is the cursor that loads page i (page 0: none).
  let cursors = [""];
  let page = 0;
  let last = "";
  let searchTimer = 0;

  // viewHash is the address of this list for a state, keeping the search
  // and the page size.
  const viewHash = (st) => {
    const p = new URLSearchParams({ state: st });
    if (email) p.set("email", email);
    if (limit !== PAGE) p.set("limit", String(limit));
    return "#/users?" + p;
  };
  const tabs = h(
    "nav",
    { class: "tabs", role: "tablist", "aria-label": "User state" },
    TABS.map((t) =>
      h(
        "a",
        {
          class: t.state === state ? "tab active" : "tab",
          role: "tab",
          "aria-selected": t.state === state ? "true" : "false",
          href: viewHash(t.state),
          dataset: { state: t.state },
        },
        t.label,
      ),
    ),
  );
  const search = h("input", {
    type: "search",
    id: "search",
    class: "search",
    placeholder: "Search by email (starts with…)",
    "aria-label": "Search by email",
    value: email,
    autocomplete: "off",
    spellcheck: "false",
  });
  const body = h("div", { class: "table-wrap" });
  const pager = h("div", { class: "pager" });
  const toolbar = h("div", { class: "toolbar" }, search);
  const header = h(
    "div",
    { class: "page-head" },
    h("div", {}, h("h1", {}, "Users"), h("p", { class: "muted" }, "Everyone registered with userlife, by state. Choose a row's … menu to act on a user.")),
    ctx.isAdmin ? h("button", { type: "button", class: "btn btn-primary", id: "register", onclick: () => registerUser(() => load()) }, "Register user") : null,
  );
  const el = h("section", { class: "page" }, header, h("div", { class: "card" }, tabs, toolbar, body, pager));

  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      email = search.value.trim();
      history.replaceState(null, "", viewHash(state));
      for (const a of tabs.querySelectorAll("a")) a.href = viewHash(a.dataset.state);
      cursors = [""];
      page = 0;
      load();
    }, 250);
  });

  function menuItems(u) {
    const items = [{ label: "View details", action: "view", run: () => ctx.navigate(userHref(u.id)) }];
    if (ctx.isAdmin) {
      const acts = actionsFor(u.state);
      if (acts.length) items.push("sep");
      for (const a of acts) {
        items.push({ label: ACTIONS[a].label, action: a, danger: ACTIONS[a].danger, run: () => confirmAction(a, u, () => load()) });
      }
    }
    return items;
  }

  function render(data) {
    const users = data.users || [];
    if (users.length === 0) {
      const what = { confirmed: "confirmed", pending: "pending", disabled: "disabled" }[state];
      replace(
        body,
        h("div", { class: "empty" }, email ? `No ${what} user's email starts with “${email}”.` : page > 0 ? "No more users." : `There are no ${what} users.`),
      );
    } else {
      replace(
        body,
        h(
          "table",
          { class: "table users" },
          h("thead", {}, h("tr", {}, h("th", {}, "Email"), h("th", {}, "User ID"), h("th", {}, "Registered"), h("th", {}, "Last change"), h("th", { class: "col-menu" }, h("span", { class: "sr-only" }, "Actions")))),
          h(
            "tbody",
            {},
            users.map((u) =>
              h(
                "tr",
                { dataset: { userId: u.id, email: u.email, state: u.state } },
                h("td", {}, h("a", { href: userHref(u.id), class: "email" }, u.email)),
                h("td", { class: "mono muted" }, u.id),
                h("td", {}, time(u.registered_at)),
                h("td", {}, time(u.updated_at)),
                h("td", { class: "col-menu" }, rowMenu(`Actions for ${u.email}`, menuItems(u))),
              ),
            ),
          ),
        ),
      );
    }
    cursors[page + 1] = data.next || "";
    const prev = h("button", { type: "button", class: "btn", id: "prev", disabled: page === 0 }, "‹ Previous");
    const next = h("button", { type: "button", class: "btn", id: "next", disabled: !data.next }, "Next ›");
    prev.addEventListener("click", () => {
      page--;
      load();
    });
    next.addEventListener("click", () => {
      page++;
      load();
    });
    const from = page * limit + 1;
    replace(
      pager,
      h("span", { class: "muted", id: "showing" }, users.length ? `Showing ${from}–${page * limit + users.length}` : ""),
      h("div", { class: "pager-buttons" }, prev, next),
    );
  }

  let seq = 0;
  async function load(background = false) {
    const mine = ++seq;
    if (!background) el.setAttribute("aria-busy", "true");
    try {
      const data = await api.listUsers({ state, email, after: cursors[page], limit });
      // A refresh that was under way when a menu or dialog opened
      // waits for the next one.
      if (mine !== seq || (background && !ctx.canRedraw())) return;
      const key = JSON.stringify(data);
      // A page emptied by changes elsewhere: step back to one with users.
      if (page > 0 && (data.users || []).length === 0) {
        page--;
        return load(background);
      }
      if (key !== last || !background) {
        last = key;
        render(data);
      }
      ctx.status.ok();
    } catch (e) {
      if (mine !== seq) return;
      if (background) ctx.status.failed(e.message);
      else replace(body, h("div", { class: "empty error" }, e.message));
    } finally {
      if (mine === seq) el.removeAttribute("aria-busy");
    }
  }

  load();
  return { el, refresh: () => load(true), title: "Users", focus: () => search.focus(), destroy: () => clearTimeout(searchTimer) };
}
