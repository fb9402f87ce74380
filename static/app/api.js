// The public API (/api/v1), exactly as the mini-program calls it: JSON, a bearer token, problem details.
// What a resident reads about an error comes from the one table of the API (GET /api/v1/messages).

const BASE = "/api/v1";
const TOKEN = "pension.token";
let messages = {};

export class Problem extends Error {
  constructor(status, body) {
    super(body.code || "error");
    this.status = status;
    this.code = body.code || "error";
    this.body = body;
  }
}

export async function loadMessages() {
  try {
    const response = await fetch(`${BASE}/messages`, { headers: { Accept: "application/json" } });
    if (response.ok) messages = await response.json();
  } catch {
    // Offline at start: the sentences the API sends with each problem still show.
  }
}

/** The resident's sentence for an error or reason code. */
export function sentence(code, fallback = "") {
  return messages[code] || fallback || messages.error || "暂时无法办理，请稍后再试。";
}

export function signedIn() { return Boolean(sessionStorage.getItem(TOKEN)); }
export function signIn(token) { sessionStorage.setItem(TOKEN, token); }
export function signOut() { sessionStorage.removeItem(TOKEN); }

/** A path of this origin for an URL the API hands out (it may name the public origin). */
export function localPath(url) {
  const parsed = new URL(url, location.href);
  return parsed.pathname + parsed.search;
}

export async function call(method, path, { body, headers = {}, as = "json" } = {}) {
  const token = sessionStorage.getItem(TOKEN);
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `${BASE}/${path}`, init);
  } catch {
    throw new Problem(0, { code: "service_unavailable" });
  }
  if (!response.ok) throw new Problem(response.status, await problemOf(response));
  if (response.status === 204) return null;
  return as === "blob" ? response.blob() : response.json();
}

async function problemOf(response) {
  try {
    const body = await response.json();
    if (body && typeof body.code === "string") return body;
  } catch {
    // Not a problem document (a proxy's page): fall through to the status.
  }
  return { code: response.status === 429 ? "rate_limited" : response.status >= 500 ? "service_unavailable" : "error" };
}

export const get = (path, options) => call("GET", path, options);
export const post = (path, body, options = {}) => call("POST", path, { ...options, body });
export const remove = (path) => call("DELETE", path);
