// The user page: state, timestamps, revocation status and the full
// history, with the actions the user's state allows; for a deleted user,
// the erasure receipts of the registered data services.
import { h, replace, stateBadge, time } from "./dom.js";
import * as api from "./api.js";
import { ACTIONS, actionsFor, confirmAction } from "./actions.js";

const EVENT_LABELS = {
  UserRegistered: "Registered",
  UserConfirmed: "Confirmed",
  UserDisabled: "Disabled",
  UserEnabled: "Enabled",
  UserDeleted: "Deleted",
  UserDataPurged: "Data purged",
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
  if (d.service) parts.push(h("span", {}, h("span", { class: "mono" }, d.service), ": ", items(d.items_removed || 0), " removed"));
  return parts.length ? parts : h("span", { class: "muted" }, "—");
}

function items(n) {
  return `${n} ${n === 1 ? "item" : "items"}`;
}

// erasureCounts: how many registered services have confirmed, of how many.
function erasureCounts(rec) {
  const registered = (rec.services || []).filter((s) => s.registered);
  return { done: registered.filter((s) => s.status === "purged").length, total: registered.length };
}

// erasureSummary is the receipt in a few words, e.g. "2 of 3 services confirmed".
function erasureSummary(rec) {
  const { done, total } = erasureCounts(rec);
  if (total === 0) return "No data services registered";
  return `${done} of ${total} ${total === 1 ? "service" : "services"} confirmed`;
}

function erasureStatus(rec) {
  const { done, total } = erasureCounts(rec);
  return total === 0 ? "none" : done === total ? "complete" : "pending";
}

// erasureRow is one service's part of the receipt: "purged N items at T"
// or pending.
function erasureRow(s) {
  const purged = s.status === "purged";
  return h(
    "tr",
    { dataset: { service: s.service, status: s.status } },
    h(
      "td",
      {},
      h("span", { class: "mono service" }, s.service),
      s.registered ? null : h("span", { class: "muted small" }, " (no longer registered)"),
    ),
    h(
      "td",
      { class: "erasure-status" },
      purged
        ? [h("span", { class: "badge badge-purged" }, "Purged"), " ", items(s.items_removed || 0), " at ", time(s.purged_at)]
        : [h("span", { class: "badge badge-waiting" }, "Pending"), " ", h("span", { class: "muted" }, "no receipt from this service yet")],
    ),
    h(
      "td",
      { class: "nowrap" },
      purged
        ? [h("span", { class: "purger" }, s.actor || "—"), " ", h("span", { class: "mono muted", title: "Stream sequence of the UserDataPurged event" }, "#" + s.event_seq)]
        : h("span", { class: "muted" }, "—"),
    ),
  );
}

// deletedFromHistory tells a deleted user's details from its history, for
// when the API has no row for it.
function deletedFromHistory(id, events, deletedEvent) {
  const registered = events.find((e) => e.type === "UserRegistered");
  const d = deletedEvent.data || {};
  return {
    user: {
      id,
      state: "deleted",
      email: (registered && registered.data && registered.data.email) || "",
      registered_at: registered && registered.occurred_at,
      deleted_at: deletedEvent.occurred_at,
      revoked_before: d.revoked_before,
      version: events[events.length - 1].seq,
    },
    revocation: {
      revoked_before: d.revoked_before,
      revoked_sessions: [...new Set(events.filter((e) => e.type === "SessionRevoked").map((e) => e.data && e.data.session_id).filter(Boolean))],
    },
  };
}

function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

export function userView(ctx, id) {
  const head = h("div", { class: "page-head" });
  const details = h("div", { class: "card card-pad" });
  const sessions = h("div", { class: "card card-pad" });
  const hist = h("div", { class: "card table-scroll" });
  const erasureCard = h("section", { class: "card erasure", id: "erasure", "aria-labelledby": "erasure-title", hidden: true });
  const el = h(
    "section",
    { class: "page" },
    h("a", { href: "#/users", class: "back" }, "‹ Users"),
    head,
    h("div", { class: "grid" }, details, sessions),
    erasureCard,
    h("h2", { class: "section-title" }, "History"),
    hist,
  );
  let last = "";
  let userState = "";

  // renderErasure shows the receipt, or hides the section for a live user.
  function renderErasure(rec) {
    if (!rec) {
      erasureCard.hidden = true;
      replace(erasureCard);
      return;
    }
    erasureCard.hidden = false;
    if (rec.error) {
      replace(erasureCard, h("div", { class: "card-pad" }, h("h2", { id: "erasure-title" }, "Erasure"), h("p", { class: "error" }, rec.error)));
      return;
    }
    const status = erasureStatus(rec);
    const services = rec.services || [];
    replace(
      erasureCard,
      h(
        "div",
        { class: "card-pad erasure-head" },
        h("h2", { id: "erasure-title" }, "Erasure"),
        h("span", { class: `erasure-summary erasure-${status}`, dataset: { status } }, erasureSummary(rec)),
        h(
          "p",
          { class: "hint" },
          status === "none"
            ? "No data service is registered now, so none is waiting to erase this user's data. A service that keeps user data registers with: userlife services register NAME."
            : status === "complete"
              ? "Every registered data service has reported that it erased this user's data."
              : "Each registered data service reports here once it has erased this user's data; this page updates by itself.",
        ),
      ),
      services.length
        ? h(
            "div",
            { class: "table-scroll" },
            h(
              "table",
              { class: "table erasure-table" },
              h("thead", {}, h("tr", {}, h("th", {}, "Service"), h("th", {}, "Status"), h("th", {}, "Reported by"))),
              h("tbody", {}, services.map(erasureRow)),
            ),
          )
        : null,
    );
  }

  function renderHead(u, deleted, rec) {
    const acts = ctx.isAdmin && u ? actionsFor(u.state) : [];
    // A deleted user's header says how far the erasure is; a click shows
    // the receipts.
    const chip =
      rec && !rec.error
        ? h(
            "button",
            {
              type: "button",
              class: `erasure-chip erasure-${erasureStatus(rec)}`,
              id: "erasure-chip",
              title: "Show the erasure receipts",
              onclick: () => erasureCard.scrollIntoView({ behavior: "smooth", block: "start" }),
            },
            "Erasure: ",
            erasureSummary(rec),
          )
        : null;
    replace(
      head,
      h(
        "div",
        {},
        h("h1", { class: "user-title" }, u ? u.email : deleted ? deleted.email || id : id, " ", stateBadge(u ? u.state : "deleted")),
        h("p", { class: "mono muted" }, id),
      ),
      chip,
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

  function render(user, revocation, events, rec) {
    const registered = events.find((e) => e.type === "UserRegistered");
    const deletedEvent = events.find((e) => e.type === "UserDeleted");
    if (!user && deletedEvent) ({ user, revocation } = deletedFromHistory(id, events, deletedEvent));
    const u = user;
    userState = u ? u.state : "deleted";
    const shown = u ? u.email : (registered && registered.data && registered.data.email) || id;
    document.title = `${shown} · userlife console`;
    renderHead(u, deletedEvent ? { email: registered && registered.data && registered.data.email } : null, rec);
    renderErasure(rec);
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

  // receipt reads the erasure receipt; a refusal (e.g. a server without
  // receipts) is shown in the section, a lost connection fails the load.
  function receipt() {
    return api.erasure(id).catch((e) => {
      if (e.status === 0 || e.status === 401) throw e;
      return { error: e.message };
    });
  }

  let deletedSeen = false;
  let seq = 0;
  async function load(background = false) {
    const mine = ++seq;
    try {
      // Once the user is known to be deleted, its receipt is read along.
      const wasDeleted = deletedSeen;
      let [got, hs, rec] = await Promise.all([
        api.getUser(id).catch((e) => {
          if (e.status === 404) return null;
          throw e;
        }),
        api.history(id).catch((e) => {
          if (e.status === 404) return { events: [] };
          throw e;
        }),
        wasDeleted ? receipt() : null,
      ]);
      // A refresh that was under way when a menu or dialog opened
      // waits for the next one.
      if (mine !== seq || (background && !ctx.canRedraw())) return;
      const events = (hs && hs.events) || [];
      const deleted = (got && got.user && got.user.state === "deleted") || events.some((e) => e.type === "UserDeleted");
      deletedSeen = deleted;
      if (!deleted) rec = null;
      else if (!wasDeleted) {
        rec = await receipt();
        if (mine !== seq || (background && !ctx.canRedraw())) return;
      }
      const key = JSON.stringify([got, events, rec]);
      if (key !== last || !background) {
        last = key;
        render(got && got.user, got && got.revocation, events, rec);
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
