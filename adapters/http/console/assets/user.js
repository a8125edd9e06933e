// The user page: state, timestamps, revocation status and the full
// history, with the actions the user's state allows.
import { h, replace, stateBadge, time } from "./dom.js";
import * as api from "./api.js";
import { ACTIONS, actionsFor, confirmAction } from "./actions.js";

const EVENT_LABELS = {
  UserRegistered: "Registered",
  UserConfirmed: "Confirmed",
  UserDisabled: "Disabled",
  UserEnabled: "Enabled",
  UserDeleted: "Deleted",
  SessionsRevoked: "All sessions revoked",
  SessionRevoked: "Session revoked",
};

// eventDetails summarises an event's data for the history table.
function eventDetails(e) {
  const d = e.data || {};
  const parts = [];
  if (d.email) parts.push(h("span", {}, d.email));
  if (d.session_id) parts.push(h("span", {}, "session ", h("span", { class: "mono" }, d.session_id)));
  if (d.revoked_before) parts.push(h("span", {}, "sessions before ", time(d.revoked_before)));
  return parts.length ? parts : h("span", { class: "muted" }, "—");
}

function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

export function userView(ctx, id) {
  const head = h("div", { class: "page-head" });
  const details = h("div", { class: "card card-pad" });
  const sessions = h("div", { class: "card card-pad" });
  const hist = h("div", { class: "card table-scroll" });
  const el = h(
    "section",
    { class: "page" },
    h("a", { href: "#/users", class: "back" }, "‹ Users"),
    head,
    h("div", { class: "grid" }, details, sessions),
    h("h2", { class: "section-title" }, "History"),
    hist,
  );
  let last = "";
  let userState = "";

  function renderHead(u, deleted) {
    const acts = ctx.isAdmin && u ? actionsFor(u.state) : [];
    replace(
      head,
      h(
        "div",
        {},
        h("h1", { class: "user-title" }, u ? u.email : deleted ? deleted.email || id : id, " ", stateBadge(u ? u.state : "deleted")),
        h("p", { class: "mono muted" }, id),
      ),
      acts.length
        ? h(
            "div",
            { class: "actions", role: "group", "aria-label": "Actions" },
            acts.map((a) =>
              h(
                "button",
                {
                  type: "button",
                  class: ACTIONS[a].danger ? "btn btn-danger-outline" : "btn",
                  dataset: { action: a },
                  onclick: () => confirmAction(a, u, () => load()),
                },
                ACTIONS[a].label,
              ),
            ),
          )
        : null,
    );
  }

  function render(user, revocation, events) {
    const u = user;
    const registered = events.find((e) => e.type === "UserRegistered");
    const deletedEvent = events.find((e) => e.type === "UserDeleted");
    userState = u ? u.state : "deleted";
    const shown = u ? u.email : (registered && registered.data && registered.data.email) || id;
    document.title = `${shown} · userlife console`;
    renderHead(u, deletedEvent ? { email: registered && registered.data && registered.data.email } : null);
    if (!u) {
      replace(
        details,
        h("h2", {}, "Details"),
        h(
          "p",
          { class: "notice" },
          deletedEvent ? ["This user was deleted on ", time(deletedEvent.occurred_at), ". The history below stays in the audit log."] : "There is no user with this id.",
        ),
      );
      replace(sessions, h("h2", {}, "Sessions"), h("p", { class: "muted" }, deletedEvent ? "Every session of a deleted user is revoked." : "—"));
    } else if (u.state === "deleted") {
      replace(
        details,
        h("h2", {}, "Details"),
        h(
          "dl",
          { class: "fields" },
          field("State", stateBadge(u.state)),
          field("Email", u.email || h("span", { class: "muted" }, "—")),
          field("Registered", time(u.registered_at)),
          field("Deleted", time(u.deleted_at)),
          field("Last event", h("span", { class: "mono" }, "#" + u.version)),
        ),
        h("p", { class: "hint" }, "A deleted user is gone for good; the id is never reused. The history below stays in the audit log."),
      );
    } else {
      replace(
        details,
        h("h2", {}, "Details"),
        h(
          "dl",
          { class: "fields" },
          field("State", stateBadge(u.state)),
          field("Email", u.email),
          field("Registered", time(u.registered_at)),
          field("Confirmed", time(u.confirmed_at, "Not confirmed")),
          field("Disabled", time(u.disabled_at, "Not disabled")),
          field("Last change", time(u.updated_at)),
          field("Last event", h("span", { class: "mono", title: "Stream sequence of the user's last event" }, "#" + u.version)),
        ),
      );
    }
    if (u) {
      const rb = (revocation && revocation.revoked_before) || u.revoked_before;
      const rs = (revocation && revocation.revoked_sessions) || [];
      replace(
        sessions,
        h("h2", {}, "Sessions"),
        h(
          "dl",
          { class: "fields" },
          field("Revoked before", rb ? time(rb) : h("span", { class: "muted" }, "Never revoked")),
          field(
            "Revoked sessions",
            rs.length ? h("ul", { class: "plain" }, rs.map((s) => h("li", { class: "mono" }, s))) : h("span", { class: "muted" }, "None"),
          ),
        ),
        h(
          "p",
          { class: "hint" },
          u.state === "deleted"
            ? "Every session of a deleted user is revoked."
            : rb
              ? "Tokens and sessions issued before this time are rejected."
              : "All sessions issued to this user are valid.",
        ),
      );
    }
    replace(
      hist,
      events.length === 0
        ? h("div", { class: "empty" }, "No events.")
        : h(
            "table",
            { class: "table history" },
            h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Event"), h("th", {}, "Actor"), h("th", {}, "Reason"), h("th", {}, "Details"))),
            h(
              "tbody",
              {},
              [...events].reverse().map((e) =>
                h(
                  "tr",
                  { dataset: { type: e.type } },
                  h("td", { class: "nowrap" }, time(e.occurred_at)),
                  h("td", {}, h("span", { class: `event event-${e.type}` }, EVENT_LABELS[e.type] || e.type)),
                  h("td", { class: "actor" }, e.actor || h("span", { class: "muted" }, "—")),
                  h("td", { class: "reason" }, e.reason || h("span", { class: "muted" }, "—")),
                  h("td", {}, eventDetails(e)),
                ),
              ),
            ),
          ),
    );
  }

  let seq = 0;
  async function load(background = false) {
    const mine = ++seq;
    try {
      const [got, hs] = await Promise.all([
        api.getUser(id).catch((e) => {
          if (e.status === 404) return null;
          throw e;
        }),
        api.history(id).catch((e) => {
          if (e.status === 404) return { events: [] };
          throw e;
        }),
      ]);
      // A refresh that was under way when a menu or dialog opened
      // waits for the next one.
      if (mine !== seq || (background && !ctx.canRedraw())) return;
      const events = (hs && hs.events) || [];
      const key = JSON.stringify([got, events]);
      if (key !== last || !background) {
        last = key;
        render(got && got.user, got && got.revocation, events);
      }
      ctx.status.ok();
    } catch (e) {
      if (mine !== seq) return;
      if (background) ctx.status.failed(e.message);
      else replace(details, h("p", { class: "empty error" }, e.message));
    }
  }

  load();
  return { el, refresh: () => load(true), title: id, state: () => userState };
}
