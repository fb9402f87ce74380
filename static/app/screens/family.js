// 亲情服务: link a parent (at once when the registry lists you, else on the parent's consent), act for them,
// see who pays for you and which years, approve a request, remove a link from either side.

import * as api from "../api.js";
import { RELATION } from "../format.js";
import { showProblem } from "../problems.js";
import { busy, h, notice } from "../ui.js";

export async function render(view, _params, app) {
  app.title("亲情服务");
  const links = await api.get("family/links");
  view.append(
    h("h2", {}, "我帮家人缴费"),
    links.as_supporter.length
      ? h("ul", { class: "list", id: "as-supporter" }, links.as_supporter.map((link) => supporterRow(view, link, app)))
      : h("p", { class: "muted", id: "as-supporter" }, "还没有关联家人。"),
    addForm(view, app),
    h("h2", {}, "帮我缴费的家人"),
    links.as_parent.length
      ? h("ul", { class: "list", id: "as-parent" }, links.as_parent.map((link) => parentRow(view, link, app)))
      : h("p", { class: "muted", id: "as-parent" }, "没有家人帮您缴费。"),
  );
}

function statusText(link) {
  return link.status === "active" ? "已关联" : "等待对方同意";
}

function supporterRow(view, link, app) {
  const go = (screen, text) => h("button", { type: "button", onclick: () => app.go(`#/${screen}/${link.parent.resident_id}`) }, text);
  return h("li", { "data-link": link.link_id },
    h("div", { class: "line" }, h("strong", {}, `${link.parent.name}（${RELATION[link.relation] || ""}）`), h("span", { class: "status" }, statusText(link))),
    link.status === "active"
      ? h("div", { class: "tiles" }, go("pay", "代缴费"), go("account", "查看账户"), go("ledger", "缴费记录"), go("certificate", "缴费证明"))
      : h("p", { class: "muted small" }, "请对方在自己的微信里打开“亲情服务”，点“同意”。"),
    removeButton(view, link, app));
}

function parentRow(view, link, app) {
  const paid = link.paid_years || [];
  return h("li", { "data-link": link.link_id },
    h("div", { class: "line" }, h("strong", {}, `${link.supporter.name}（${RELATION[link.relation] || ""}）`), h("span", { class: "status" }, statusText(link))),
    paid.length ? h("p", { class: "paid-by" }, `替您缴了：${[...paid].sort().map((year) => `${year}年`).join("、")}`) : h("p", { class: "muted small" }, "还没有替您缴过费。"),
    link.status === "pending" ? h("button", { class: "primary", type: "button", onclick: (event) => approve(view, link, app, event.currentTarget) }, "同意") : null,
    removeButton(view, link, app));
}

async function approve(view, link, app, button) {
  const done = busy(button, "正在办理…");
  try {
    await api.post(`family/links/${link.link_id}/approve`, {});
    app.tell(`已同意${link.supporter.name}帮您缴费。`, "", "info");
    app.go("#/family");
  } catch (error) {
    done();
    showProblem(view, error);
  }
}

/** Remove, in two taps on the same place (no dialog): 解除关联 → 确认解除. */
function removeButton(view, link, app) {
  const button = h("button", { type: "button", class: "danger" }, "解除关联");
  button.addEventListener("click", async () => {
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.textContent = "确认解除（再点一次）";
      return;
    }
    const done = busy(button, "正在解除…");
    try {
      await api.remove(`family/links/${link.link_id}`);
      app.tell("已解除关联。", "", "info");
      app.go("#/family");
    } catch (error) {
      done();
      showProblem(view, error);
    }
  });
  return button;
}

function addForm(view, app) {
  const name = h("input", { id: "parent-name", autocomplete: "off", required: true });
  const idNumber = h("input", { id: "parent-id", autocomplete: "off", maxlength: "18", required: true });
  const relation = h("select", { id: "relation" }, Object.entries(RELATION).map(([value, text]) => h("option", { value }, text)));
  const submit = h("button", { class: "primary", type: "submit" }, "添加家人");
  const form = h("form", { class: "card", id: "add-link" },
    h("h2", {}, "添加要帮忙缴费的家人"),
    h("label", { for: "parent-name" }, "家人姓名"), name,
    h("label", { for: "parent-id" }, "家人身份证号码"), idNumber,
    h("label", { for: "relation" }, "您是他（她）的"), relation,
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = busy(submit, "正在添加…");
    try {
      const link = await api.post("family/links", {
        parent_name: name.value.trim(), parent_id_number: idNumber.value.trim().toUpperCase(), relation: relation.value,
      });
      await app.refreshMe();
      app.tell(link.status === "active" ? `已关联${link.parent.name}，现在可以帮他（她）缴费了。` : `已向${link.parent.name}发出请求，等对方同意后就可以帮他（她）缴费。`, "", "info");
      app.go("#/family");
    } catch (error) {
      done();
      showProblem(form, error);
    }
  });
  return form;
}
