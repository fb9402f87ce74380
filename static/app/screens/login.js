// 登录: wx.login hands a code; the API answers a token. In the demo, picking a demo person stands in for wx.login.

import * as api from "../api.js";
import { platform } from "../platform.js";
import { showProblem } from "../problems.js";
import { h } from "../ui.js";

export async function render(view, _params, app) {
  app.title("登录");
  api.signOut();
  app.me = null;
  view.append(
    h("div", { class: "card" },
      h("h2", {}, "山西省城乡居民补充养老保险"),
      h("p", {}, "查账户、缴费、开证明，也可以帮家里老人缴费。")),
  );
  let people = null;
  try {
    people = await platform.accounts();
  } catch (error) {
    showProblem(view, error);
    return;
  }
  const list = h("ul", { class: "list people", "aria-label": "演示居民" },
    people.map((person) => h("li", {},
      h("button", { type: "button", class: "person", "data-key": person.key, onclick: (event) => logIn(event.currentTarget, person, view, app) },
        `${person.name}`, h("span", { class: "role muted small" }, person.role)))));
  view.append(
    h("h2", {}, "选择演示居民登录"),
    h("p", { class: "muted small" }, "演示环境：选一位沙箱里的居民，代替“微信一键登录”。"),
    list,
  );
}

async function logIn(button, person, view, app) {
  button.disabled = true;
  try {
    const code = await platform.login(person);
    const answer = await api.post("auth/login", { code });
    api.signIn(answer.access_token);
    await app.refreshMe();
    app.go(app.me.verified ? "#/home" : "#/verify");
  } catch (error) {
    button.disabled = false;
    showProblem(view, error);
  }
}
