// The "…" menu of a row: one open at a time, closed by a click elsewhere,
// Escape or choosing an item; arrow keys move between items.
import { h } from "./dom.js";

let openMenu = null;

export function isMenuOpen() {
  return openMenu !== null;
}

export function closeMenu() {
  if (!openMenu) return;
  const { menu, button } = openMenu;
  openMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
}

document.addEventListener("click", (ev) => {
  if (openMenu && !openMenu.wrap.contains(ev.target)) closeMenu();
});
document.addEventListener("keydown", (ev) => {
  if (openMenu && ev.key === "Escape") {
    const b = openMenu.button;
    closeMenu();
    b.focus();
  }
});

// rowMenu returns the "…" button; items are {label, danger, run} or "sep".
export function rowMenu(label, items) {
  const button = h(
    "button",
    { type: "button", class: "btn-icon", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": label, title: "Actions" },
    "…",
  );
  const wrap = h("div", { class: "menu-wrap" }, button);
  button.addEventListener("click", (ev) => {
    ev.stopPropagation();
    if (openMenu && openMenu.button === button) {
      closeMenu();
      return;
    }
    closeMenu();
    const menu = h("div", { class: "menu", role: "menu", "aria-label": label });
    for (const it of items) {
      if (it === "sep") {
        menu.appendChild(h("div", { class: "menu-sep", role: "separator" }));
        continue;
      }
      const item = h("button", { type: "button", role: "menuitem", class: it.danger ? "menu-item danger" : "menu-item", dataset: { action: it.action || "" } }, it.label);
      item.addEventListener("click", (e) => {
        e.stopPropagation();
        closeMenu();
        it.run();
      });
      menu.appendChild(item);
    }
    menu.addEventListener("keydown", (e) => {
      const all = [...menu.querySelectorAll("[role=menuitem]")];
      const i = all.indexOf(document.activeElement);
      if (e.key === "ArrowDown") all[(i + 1) % all.length].focus();
      else if (e.key === "ArrowUp") all[(i - 1 + all.length) % all.length].focus();
      else return;
      e.preventDefault();
    });
    wrap.appendChild(menu);
    // Open upwards when there is no room below.
    const r = menu.getBoundingClientRect();
    if (r.bottom > window.innerHeight - 8) menu.classList.add("menu-up");
    button.setAttribute("aria-expanded", "true");
    openMenu = { menu, button, wrap };
    const first = menu.querySelector("[role=menuitem]");
    if (first) first.focus();
  });
  return wrap;
}
