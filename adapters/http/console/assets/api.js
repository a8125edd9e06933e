// The admin API, as the console uses it: a session cookie set by
// POST /v1/session, and the CSRF token it returns kept in memory only
// (GET /v1/session gives it again after a reload).

let csrfToken = "";

// ApiError is a failed request: the problem+json body when there is one.
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = (problem && (problem.detail || problem.title)) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.code = (problem && problem.code) || "";
    this.detail = detail;
    this.commandId = (problem && problem.command_id) || "";
  }
}

// onUnauthorized is called when a request answers 401 after sign-in
// (the session expired or the server restarted).
let unauthorizedHandler = () => {};
export function onUnauthorized(f) {
  unauthorizedHandler = f;
}

async function call(method, path, { body, headers = {}, quiet401 = false } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") {
    h["X-CSRF-Token"] = csrfToken;
  }
  let payload;
  if (body !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, { detail: "The server cannot be reached. Check that userlife serve is running." });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.trim().slice(0, 300) };
    }
  }
  if (res.status === 401 && !quiet401) {
    unauthorizedHandler();
  }
  if (!res.ok) {
    throw new ApiError(res.status, data);
  }
  return { status: res.status, data };
}

// session returns {actor, role} when signed in, null when not.
export async function session() {
  try {
    const { data } = await call("GET", "/v1/session", { quiet401: true });
    csrfToken = data.csrf_token || "";
    return data;
  } catch (e) {
    if (e.status === 401) {
      return null;
    }
    throw e;
  }
}

export async function signIn(token) {
  const { data } = await call("POST", "/v1/session", { body: { token }, quiet401: true });
  csrfToken = data.csrf_token || "";
  return data;
}

export async function signOut() {
  try {
    await call("DELETE", "/v1/session", { quiet401: true });
  } finally {
    csrfToken = "";
  }
}

export async function listUsers({ state, email, after, limit }) {
  const q = new URLSearchParams();
  if (state) q.set("state", state);
  if (email) q.set("email", email);
  if (after) q.set("after", after);
  if (limit) q.set("limit", String(limit));
  return (await call("GET", "/v1/users?" + q.toString())).data;
}

export async function getUser(id) {
  return (await call("GET", "/v1/users/" + encodeURIComponent(id))).data;
}

export async function history(id) {
  return (await call("GET", "/v1/users/" + encodeURIComponent(id) + "/history")).data;
}

// erasure returns a deleted user's erasure receipt: which registered data
// services have confirmed erasing the user's data and which are pending.
export async function erasure(id) {
  return (await call("GET", "/v1/users/" + encodeURIComponent(id) + "/erasure")).data;
}

// idempotencyKey is a fresh command id: sending the same dialog twice
// (a double click, a retry) is one command.
function idempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return "console-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// mutate sends a command and returns its outcome:
// {status: "accepted"|"unchanged"|"rejected"|"pending", detail, code, command_id, event_seq}.
// Only failures that are not the command's outcome (network, session) throw.
export async function mutate(path, body) {
  const key = idempotencyKey();
  try {
    const { status, data } = await call("POST", path, { body, headers: { "Idempotency-Key": key } });
    if (status === 202) {
      return { status: "pending", command_id: data.command_id || key };
    }
    return data;
  } catch (e) {
    if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 401) {
      return { status: "rejected", detail: e.detail, code: e.code, command_id: e.commandId || key };
    }
    throw e;
  }
}

export function userAction(id, action, reason) {
  const body = reason ? { reason } : {};
  return mutate("/v1/users/" + encodeURIComponent(id) + "/" + action, body);
}

export function register(email, userId, reason) {
  const body = { email };
  if (userId) body.user_id = userId;
  if (reason) body.reason = reason;
  return mutate("/v1/users", body);
}
