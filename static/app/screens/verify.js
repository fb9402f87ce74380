// 实名认证: the person's name and ID number, a face check on the phone, then the API binds them.

import * as api from "../api.js";
import { platform } from "../platform.js";
import { showProblem } from "../problems.js";
import { busy, h } from "../ui.js";

export async function render(view, _params, app) {
  app.title("实名认证");
  const known = platform.knownIdentity() || {};
  const name = h("input", { id: "name", name: "name", autocomplete: "name", value: known.name || "", required: true });
  const idNumber = h("input", { id: "id-number", name: "id_number", inputmode: "text", maxlength: "18", autocomplete: "off", value: known.idNumber || "", required: true });
  const submit = h("button", { class: "primary", type: "submit" }, "刷脸认证");
  const form = h("form", { onsubmit: (event) => { event.preventDefault(); bind(view, app, submit, name.value.trim(), idNumber.value.trim().toUpperCase()); } },
    h("label", { for: "name" }, "姓名"), name,
    h("label", { for: "id-number" }, "身份证号码"), idNumber,
    submit);
  view.append(
    h("p", {}, "第一次使用，请先确认是您本人：填写身份证上的姓名和号码，然后刷脸。"),
    form,
    h("p", { class: "muted small" }, "刷脸由微信完成，核对您和身份证照片是不是同一个人。"),
  );
  if (known.name) view.append(h("p", { class: "muted small" }, "演示环境：已按所选居民填好，直接点“刷脸认证”。"));
  view.append(h("button", { type: "button", onclick: () => app.go("#/login") }, "换一个微信号登录"));
}

async function bind(view, app, button, name, idNumber) {
  const done = busy(button, "正在刷脸认证…");
  try {
    const verifyResult = await platform.faceCheck({ name, idNumber });
    await api.post("auth/real-name", { name, id_number: idNumber, verify_result: verifyResult });
    await app.refreshMe();
    app.tell("实名认证成功。", "", "info");
    app.go("#/home");
  } catch (error) {
    done();
    showProblem(view, error);
  }
}
