// 缴费: the window, the tiers with their subsidy, back payments, lump sum, "paid by the government";
// then the order, its payment at the (sandbox) tax bureau, and the paid state as soon as the API has it.

import * as api from "../api.js";
import { CHANNEL, PAYER, date, dateTime, lastDay, yuan } from "../format.js";
import { platform, PlatformError } from "../platform.js";
import { showProblem } from "../problems.js";
import { busy, facts, h, notice } from "../ui.js";

const POLL_MS = 1000;
const POLL_LIMIT = 90; // about a minute and a half, then the person is told to look again later

export async function render(view, [residentId], app) {
  const options = await api.get(`residents/${residentId}/contribution-options`);
  const whose = app.isSelf(residentId) ? "" : `为${app.nameOf(residentId)}`;
  app.title(`${whose}缴费`);
  view.append(windowCard(options));
  if (options.paid_by_government) {
    view.append(h("div", { class: "card good", id: "government" },
      h("p", { class: "big" }, "政府代缴"), h("p", {}, api.sentence("paid_by_government"))));
  }
  if (!options.window.open) return; // nothing can be ordered until the window opens (409 window_closed)
  const kinds = kindsOf(options);
  if (!kinds.length) {
    if (!options.paid_by_government) view.append(h("div", { class: "card warn", id: "cannot-pay" }, h("p", {}, reasonText(options))));
    return;
  }
  view.append(orderForm(view, residentId, options, kinds));
}

function windowCard(options) {
  const window = options.window;
  if (window.open) {
    return h("div", { class: "card", id: "window" }, h("p", {}, `${options.year}年缴费期内`), h("p", { class: "muted" }, `截止到${lastDay(window.closes_at)}`));
  }
  return h("div", { class: "card warn", id: "window" },
    h("p", {}, api.sentence("window_closed")), h("p", {}, `下次缴费期：${date(window.opens_at)}至${lastDay(window.closes_at)}`));
}

function reasonText(options) {
  return options.normal.reason ? api.sentence(options.normal.reason) : "现在没有可以办理的缴费。";
}

function kindsOf(options) {
  const kinds = [];
  if (options.normal.allowed) kinds.push(["normal", `${options.year}年缴费`]);
  if (options.back_payment.years.length) kinds.push(["back_payment", "补缴往年"]);
  if (options.lump_sum_max_years > 0) kinds.push(["lump_sum", "一次性缴费"]);
  return kinds;
}

function radios(name, legend, items, id) {
  return h("fieldset", { id },
    h("legend", {}, legend),
    items.map(([value, text, sub], index) => h("label", { class: "choice" },
      h("input", { type: "radio", name, value, checked: index === 0 }),
      h("span", {}, text, sub ? h("span", { class: "sub" }, sub) : null))));
}

const MAX_RADIOS = 6; // a longer list of years is a drop-down, so that the tiers stay in sight

function yearChoice(name, legend, items, id) {
  if (items.length <= MAX_RADIOS) return radios(name, legend, items, id);
  return h("div", { id },
    h("label", { for: `${id}-select` }, legend),
    h("select", { id: `${id}-select`, name }, items.map(([value, text]) => h("option", { value }, text))));
}

function orderForm(view, residentId, options, kinds) {
  const tiers = options.tiers.map((tier) => [String(tier.amount_fen), yuan(tier.amount_fen), `政府补贴 ${yuan(tier.subsidy_fen)}`]);
  const backYears = options.back_payment.years.map((year) => [String(year), `${year}年`]);
  const lumpYears = Array.from({ length: options.lump_sum_max_years }, (_, i) => [String(i + 1), `${i + 1}年`]);
  const submit = h("button", { class: "primary", type: "submit" }, "去缴费");
  const form = h("form", { id: "order-form" },
    kinds.length > 1 ? radios("kind", "缴费方式", kinds, "kinds") : onlyKind(kinds[0]),
    backYears.length ? yearChoice("year", `补缴哪一年（最多还可补缴 ${options.back_payment.remaining_years} 年）`, backYears, "back-years") : null,
    lumpYears.length ? yearChoice("years", "一次性缴几年", lumpYears, "lump-years") : null,
    radios("tier", "缴费档次（每年）", tiers, "tiers"),
    submit);
  const show = () => {
    const kind = form.elements.kind.value;
    form.querySelector("#back-years")?.toggleAttribute("hidden", kind !== "back_payment");
    form.querySelector("#lump-years")?.toggleAttribute("hidden", kind !== "lump_sum");
    form.querySelectorAll("#tiers .sub").forEach((sub) => sub.toggleAttribute("hidden", kind !== "normal"));
  };
  form.addEventListener("change", show);
  show();
  let attempt = null; // the same choice submitted again reuses its Idempotency-Key
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = requestOf(form, options);
    const key = JSON.stringify(body);
    if (!attempt || attempt.key !== key) attempt = { key, idempotency: crypto.randomUUID() };
    const done = busy(submit, "正在下单…");
    try {
      const order = await api.post(`residents/${residentId}/contributions`, body, { headers: { "Idempotency-Key": attempt.idempotency } });
      done();
      await payFor(view, residentId, order, body);
    } catch (error) {
      done();
      showProblem(view, error);
    }
  });
  return form;
}

function onlyKind([value, text]) {
  return h("p", { id: "kinds" }, h("strong", {}, `缴费方式：${text}`), h("input", { type: "hidden", name: "kind", value }));
}

function requestOf(form, options) {
  const kind = form.elements.kind.value;
  const body = { kind, tier_fen: Number(form.elements.tier.value), year: options.year };
  if (kind === "back_payment") body.year = Number(form.elements.year.value);
  if (kind === "lump_sum") body.years = Number(form.elements.years.value);
  return body;
}

async function payFor(view, residentId, order, body) {
  const what = body.kind === "back_payment" ? `补缴${body.year}年` : body.kind === "lump_sum" ? `一次性缴费${body.years}年` : `${body.year}年缴费`;
  try {
    await platform.requestPayment(order.pay_params, { amountFen: order.amount_fen, subsidyFen: order.subsidy_fen, what });
  } catch (error) {
    if (error instanceof PlatformError && error.message === "cancelled") return showUnpaid(view, residentId, order, body);
    return showProblem(view, error);
  }
  view.replaceChildren(h("div", { class: "card", id: "paying", role: "status" },
    h("p", { class: "big" }, "正在确认缴费结果…"), h("p", { class: "muted" }, "税务部门收到钱后会通知我们，一般几秒钟。")));
  showOutcome(view, residentId, await waitForOutcome(order.order_no));
}

function showUnpaid(view, residentId, order, body) {
  notice(view, "还没有付款。", `这笔缴费会保留到${dateTime(order.expires_at)}，在那之前点“继续支付”即可。`, "info");
  const again = h("button", { class: "primary", type: "button", id: "pay-again", onclick: () => payFor(view, residentId, order, body) }, "继续支付");
  view.querySelector(":scope > .notice").append(again);
}

async function waitForOutcome(orderNo) {
  let order;
  for (let i = 0; i < POLL_LIMIT; i += 1) {
    order = await api.get(`orders/${orderNo}`);
    if (order.status !== "pending") return order;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return order;
}

function showOutcome(view, residentId, order) {
  const card = document.getElementById("paying");
  if (order.status === "paid") {
    card.className = "card good";
    card.replaceChildren(
      h("p", { class: "big good-text" }, "✓ 缴费成功"),
      facts([
        ["缴费年度", `${order.year}年`],
        ["金额", yuan(order.amount_fen)],
        ["政府补贴", yuan(order.subsidy_fen)],
        ["付款方式", CHANNEL[order.channel] || order.channel || ""],
        ["付款人", PAYER[order.payer] || ""],
        ["时间", dateTime(order.paid_at)],
      ]));
  } else if (order.status === "pending") {
    card.className = "card warn";
    card.replaceChildren(h("p", {}, "还没有收到税务部门的缴费结果。"), h("p", {}, "如果您已经付款，请过一会儿在“缴费记录”里查看，不要重复付款。"));
  } else {
    card.className = "card bad";
    card.replaceChildren(h("p", {}, "这笔缴费没有完成（已关闭或已过期），没有扣钱。"), h("p", {}, "请返回重新缴费。"));
  }
  view.append(
    h("button", { type: "button", onclick: () => (location.hash = `#/account/${residentId}`) }, "查看账户"),
    h("button", { type: "button", onclick: () => (location.hash = `#/ledger/${residentId}`) }, "缴费记录"));
}
