// The console's entry point: the session, the frame around every page,
// hash routing (#/users, #/users/<id>) and the live refresh.
import { h, replace } from "./dom.js";
import * as api from "./api.js";
import { signInView } from "./signin.js";
import { usersView } from "./users.js";
import { userView } from "./user.js";
import { isMenuOpen, closeMenu } from "./menu.js";

// Refresh the page shown every 2 s while the tab is visible: one small
// GET per view, re-rendered only when the answer changed.
const REFRESH_MS = 2000;

const root = document.getElementById("app");
let current = null; // the view shown: {el, refresh}
let session = null;
let main = null;
let liveEl = null;
let refreshing = false;

const status = {
  ok() {
    if (!liveEl) return;
    liveEl.className = "live";
    liveEl.textContent = "Live";
    liveEl.title = "Updated " + new Date().toLocaleTimeString();
  },
  failed(msg) {
    if (!liveEl) return;
    liveEl.className = "live live-failed";
    liveEl.textContent = "Reconnecting…";
    liveEl.title = msg;
  },
};

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showSignIn(notice) {
  session = null;
  current = null;
  main = null;
  liveEl = null;
  closeMenu();
  for (const d of document.querySelectorAll("dialog")) d.remove();
  const v = signInView(async (s) => {
    session = s;
    showFrame();
  }, notice);
  document.title = "Sign in · userlife console";
  replace(root, v.el);
  root.removeAttribute("aria-busy");
  v.focus();
}

function showFrame() {
  const isAdmin = session.role === "admin";
  liveEl = h("span", { class: "live", title: "The page updates itself" }, "Live");
  const signOut = h("button", { type: "button", class: "btn btn-ghost", id: "signout" }, "Sign out");
  signOut.addEventListener("click", async () => {
    try {
      await api.signOut();
    } catch {
      // Signed out locally either way; the session ends on the server in 12 h.
    }
    history.replaceState(null, "", "#/users");
    showSignIn("You are signed out.");
  });
  main = h("main", { class: "main", id: "main" });
  replace(
    root,
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/users" }, h("img", { src: "/assets/favicon.svg", alt: "", width: 24, height: 24 }), h("span", {}, "userlife"), h("span", { class: "brand-sub" }, "Console")),
      h("nav", { class: "topnav" }, h("a", { href: "#/users", class: "active" }, "Users")),
      h(
        "div",
        { class: "who" },
        liveEl,
        h("span", { class: "actor", id: "actor" }, session.actor),
        h("span", { class: isAdmin ? "role role-admin" : "role role-viewer", id: "role", title: isAdmin ? "Can manage users" : "Read only" }, isAdmin ? "Admin" : "Viewer · read only"),
        signOut,
      ),
    ),
    main,
  );
  root.removeAttribute("aria-busy");
  route();
}

function route() {
  if (!session || !main) return;
  closeMenu();
  const hash = location.hash.replace(/^#/, "") || "/users";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const ctx = { isAdmin: session.role === "admin", navigate, status, canRedraw };
  const m = path.match(/^\/users\/(.+)$/);
  if (current && current.destroy) current.destroy();
  current = m ? userView(ctx, decodeURIComponent(m[1])) : usersView(ctx, params);
  document.title = (m ? "User" : "Users") + " · userlife console";
  replace(main, current.el);
  window.scrollTo(0, 0);
}

// canRedraw is false while the operator is acting: a redraw would take
// an open menu or the row under a dialog away.
function canRedraw() {
  return !isMenuOpen() && !document.querySelector("dialog[open]");
}

async function tick() {
  if (!current || refreshing || document.visibilityState !== "visible" || !canRedraw()) return;
  refreshing = true;
  try {
    await current.refresh();
  } finally {
    refreshing = false;
  }
}

api.onUnauthorized(() => {
  if (session) showSignIn("Your session has ended. Sign in again.");
});
window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", tick);
setInterval(tick, REFRESH_MS);

(async function boot() {
  try {
    session = await api.session();
  } catch (e) {
    replace(root, h("p", { class: "boot error" }, e.message));
    return;
  }
  if (session) showFrame();
  else showSignIn();
})();
