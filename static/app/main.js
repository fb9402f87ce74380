// The screens' router: #/<screen>/<resident_id>; each screen module draws itself into <main>.

import * as api from "./api.js";
import { notice } from "./ui.js";
import { showProblem } from "./problems.js";
import * as login from "./screens/login.js";
import * as verify from "./screens/verify.js";
import * as home from "./screens/home.js";
import * as account from "./screens/account.js";
import * as pay from "./screens/pay.js";
import * as ledger from "./screens/ledger.js";
import * as certificate from "./screens/certificate.js";
import * as family from "./screens/family.js";

const SCREENS = { login, verify, home, account, pay, ledger, certificate, family };
const OPEN = new Set(["login"]);
const view = document.getElementById("view");
const back = document.getElementById("back");
let pendingNotice = null;

export const app = {
  me: null,
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  /** Show a notice on the next screen drawn (e.g. why the user is back at login). */
  tell(what, next = "", kind = "error") {
    pendingNotice = { what, next, kind };
  },
  title(text) {
    document.getElementById("title").textContent = text;
    document.title = `${text} · 山西省城乡居民补充养老保险`;
  },
  /** The display name of a resident the caller may act for. */
  nameOf(residentId) {
    const people = [this.me?.resident, ...(this.me?.dependents || [])].filter(Boolean);
    return people.find((person) => person.resident_id === residentId)?.name || "";
  },
  isSelf(residentId) {
    return this.me?.resident?.resident_id === residentId;
  },
  async refreshMe() {
    this.me = await api.get("me");
    return this.me;
  },
};

function parse() {
  const [name = "home", ...params] = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { name: SCREENS[name] ? name : "home", params };
}

async function route() {
  const { name, params } = parse();
  if (!OPEN.has(name) && !api.signedIn()) return app.go("#/login");
  back.hidden = name === "home" || name === "login" || (name === "verify" && !app.me?.verified);
  view.replaceChildren();
  try {
    if (!OPEN.has(name) && !app.me) await app.refreshMe();
    if (!OPEN.has(name) && name !== "verify" && !app.me.verified) return app.go("#/verify");
    await SCREENS[name].render(view, params, app);
  } catch (error) {
    if (error instanceof api.Problem && error.status === 401) return expired();
    showProblem(view, error);
  }
  if (pendingNotice) {
    notice(view, pendingNotice.what, pendingNotice.next, pendingNotice.kind);
    pendingNotice = null;
  }
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function expired() {
  api.signOut();
  app.me = null;
  app.tell(api.sentence("unauthorized"));
  app.go("#/login");
}

back.addEventListener("click", () => (history.length > 1 ? history.back() : app.go("#/")));
// Routes start once the sentences are here: a hash change while they load is seen by the first route(),
// instead of a second one clearing what it showed.
await api.loadMessages();
window.addEventListener("hashchange", route);
route();
