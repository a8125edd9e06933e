// Small DOM helpers: elements are built with h() (text is always set as
// text, never parsed as HTML), and times are shown in the browser's locale.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// time shows a timestamp in local time, with the exact UTC value on hover.
export function time(iso, empty = "—") {
  if (!iso) return h("span", { class: "muted" }, empty);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", {}, iso);
  return h("time", { datetime: iso, title: d.toISOString() }, dateTime.format(d));
}

const stateLabels = { pending: "Pending", confirmed: "Confirmed", disabled: "Disabled", deleted: "Deleted" };

export function stateBadge(state) {
  return h("span", { class: `badge badge-${state}` }, stateLabels[state] || state);
}

export function userHref(id) {
  return "#/users/" + encodeURIComponent(id);
}
