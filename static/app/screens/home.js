// 首页: what the person can do for themselves, and for each family member they act for.

import * as api from "../api.js";
import { platform } from "../platform.js";
import { h } from "../ui.js";

export async function render(view, _params, app) {
  app.title("补充养老保险");
  const me = await app.refreshMe();
  const self = me.resident;
  view.append(
    h("div", { class: "card" },
      h("p", { class: "big" }, `您好，${self.name}`),
      h("p", { class: "muted" }, `${self.region_name} · ${self.age}岁`)),
    tiles(self.resident_id, app, "我的账户"),
    h("button", { type: "button", onclick: () => app.go("#/family") }, "亲情服务（帮家人缴费）"),
  );
  for (const person of me.dependents) {
    view.append(h("h2", {}, `帮${person.name}办理`), tiles(person.resident_id, app, "查看账户"));
  }
  view.append(h("button", { type: "button", class: "danger", onclick: () => { api.signOut(); platform.forget(); app.go("#/login"); } }, "退出登录"));
}

function tiles(residentId, app, accountText) {
  const tile = (text, screen) => h("button", { type: "button", onclick: () => app.go(`#/${screen}/${residentId}`) }, text);
  return h("div", { class: "tiles" },
    tile(accountText, "account"), tile("缴费", "pay"), tile("缴费记录", "ledger"), tile("缴费证明", "certificate"));
}
