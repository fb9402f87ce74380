// 缴费证明: issue a paid year's certificate ("available from" before the 5th working day), open the PDF, show the QR.

import * as api from "../api.js";
import { date } from "../format.js";
import { platform, PlatformError } from "../platform.js";
import { showProblem } from "../problems.js";
import { busy, facts, h, notice } from "../ui.js";

export async function render(view, [residentId], app) {
  app.title(app.isSelf(residentId) ? "缴费证明" : `${app.nameOf(residentId)}的缴费证明`);
  const account = await api.get(`residents/${residentId}/account`);
  const years = [...account.paid_years].sort((a, b) => b - a);
  if (!years.length) {
    view.append(h("div", { class: "card warn", id: "no-years" }, h("p", {}, api.sentence("no_payment"))));
    return;
  }
  const select = h("select", { id: "year" }, years.map((year) => h("option", { value: String(year) }, `${year}年`)));
  const issue = h("button", { class: "primary", type: "button" }, "开具缴费证明");
  const result = h("div", { id: "certificate" });
  issue.addEventListener("click", () => issueFor(view, residentId, Number(select.value), issue, result));
  view.append(
    h("p", {}, "缴费证明可以打印，也可以让别人扫码核验真假。"),
    h("label", { for: "year" }, "哪一年的缴费"), select, issue, result);
}

async function issueFor(view, residentId, year, button, result) {
  const done = busy(button, "正在开具…");
  result.replaceChildren();
  view.querySelector(":scope > .notice")?.remove();
  try {
    const certificate = await api.post(`residents/${residentId}/certificates`, { year });
    await show(view, result, certificate, year);
  } catch (error) {
    if (error instanceof api.Problem && error.code === "not_yet_available") {
      result.replaceChildren(h("div", { class: "card warn", id: "available-from" },
        h("p", {}, api.sentence("not_yet_available")),
        h("p", { class: "big" }, `${date(error.body.available_at)}起可以开具`)));
    } else {
      showProblem(view, error);
    }
  } finally {
    done();
  }
}

async function show(view, result, certificate, year) {
  const qr = await api.get(api.localPath(certificate.qr_url), { as: "blob" });
  const open = h("button", { class: "primary", type: "button", id: "open-pdf" }, "打开证明（PDF）");
  open.addEventListener("click", async () => {
    try {
      platform.openDocument(await api.get(api.localPath(certificate.pdf_url), { as: "blob" }), `${certificate.certificate_no}.pdf`);
    } catch (error) {
      showProblem(view, error);
    }
  });
  const scan = h("button", { type: "button", id: "scan" }, "扫码核验一张证明");
  scan.addEventListener("click", () => scanAndVerify(view));
  result.replaceChildren(h("div", { class: "card good" },
    h("p", { class: "big good-text" }, "✓ 已开具"),
    facts([["证明编号", certificate.certificate_no], ["缴费年度", `${year}年`], ["开具日期", date(certificate.issued_at)]]),
    h("img", { class: "qr", src: URL.createObjectURL(qr), alt: "核验二维码：别人用微信扫一扫，就能查这张证明的真假" }),
    h("p", { class: "muted small" }, "别人用微信扫这个二维码，就能核验这张证明。")),
  open, scan);
}

async function scanAndVerify(view) {
  let text;
  try {
    text = await platform.scanCode();
  } catch (error) {
    if (!(error instanceof PlatformError && error.message === "cancelled")) showProblem(view, error);
    return;
  }
  const link = new URL(text, location.href);
  if (!link.pathname.startsWith("/verify/")) {
    notice(view, "这不是缴费证明的二维码。", "请扫缴费证明上的二维码。");
    return;
  }
  location.assign(link.href);
}
