// 我的账户: balance by source, paid years, years so far against those required, status, benefit or estimate, chart.

import * as api from "../api.js";
import { balanceChart } from "../chart.js";
import { STATUS, yuan } from "../format.js";
import { facts, h } from "../ui.js";

const LEDGER_PAGES = 20; // the chart reads the whole ledger, a page at a time (bounded)

export async function render(view, [residentId], app) {
  const account = await api.get(`residents/${residentId}/account`);
  app.title(app.isSelf(residentId) ? "我的账户" : `${account.resident.name}的账户`);
  const source = account.by_source;
  view.append(
    h("div", { class: "card" },
      h("p", { class: "muted" }, `${account.resident.name} · 个人账户余额`),
      h("p", { class: "big", id: "balance" }, yuan(account.balance_fen)),
      h("p", { id: "status" }, `状态：${STATUS[account.status] || account.status}`)),
    h("h2", {}, "钱从哪里来"),
    h("div", { class: "card", id: "by-source" }, facts([
      ["个人缴费", yuan(source.personal_fen)],
      ["政府补贴", yuan(source.government_subsidy_fen)],
      source.collective_subsidy_fen ? ["集体补助", yuan(source.collective_subsidy_fen)] : null,
      source.sponsor_fen ? ["社会资助", yuan(source.sponsor_fen)] : null,
      ["记账利息", yuan(source.interest_fen)],
      source.paid_out_fen ? ["已发放待遇", `-${yuan(source.paid_out_fen)}`] : null,
    ])),
    years(account),
    benefit(account),
  );
  const chart = h("div", { class: "card" }, h("h2", {}, "历年余额"), h("p", { class: "loading" }, "正在画图…"));
  view.append(chart);
  chart.lastChild.replaceWith(balanceChart(await allEntries(residentId)));
  await benefitPayments(view, residentId);
}

function years(account) {
  const paid = [...account.paid_years].sort((a, b) => a - b);
  return h("div", { class: "card", id: "years" },
    h("h2", {}, "缴费年限"),
    h("p", {}, `累计缴费 ${account.cumulative_years} 年，领取待遇需要 ${account.required_years} 年。`),
    paid.length ? h("ul", { class: "years", "aria-label": "已缴费的年度" }, paid.map((year) => h("li", {}, `${year}年`))) : h("p", { class: "muted" }, "还没有缴费的年度。"));
}

function benefit(account) {
  const money = account.benefit || {};
  const receiving = account.status === "receiving";
  const reasons = account.eligibility?.reasons || [];
  return h("div", { class: "card", id: "benefit" },
    h("h2", {}, receiving ? "每月待遇" : "预计每月待遇"),
    h("p", { class: "big" }, yuan(money.monthly_fen || 0)),
    facts([["个人账户养老金", yuan(money.account_pension_fen || 0)], ["退出补贴", yuan(money.exit_subsidy_fen || 0)]]),
    receiving ? null : h("p", { class: "muted small" }, "这是按现在的余额估算的，以后缴费越多，领得越多。"),
    ...(money.assumptions || []).map((text) => h("p", { class: "muted small" }, text)),
    ...(receiving || !reasons.length ? [] : [h("p", { class: "reasons-title" }, h("strong", {}, "现在还不能领取，因为：")),
      h("ul", { class: "reasons" }, reasons.map((code) => h("li", {}, api.sentence(code))))]));
}

async function allEntries(residentId) {
  const entries = [];
  for (let page = 1, pages = 0; page && pages < LEDGER_PAGES; pages += 1) {
    const answer = await api.get(`residents/${residentId}/ledger?page=${page}`);
    entries.push(...answer.items);
    page = answer.next_page;
  }
  return entries;
}

/** 待遇发放记录, where the API has it (GET /residents/{id}/benefits); nothing is shown when it does not answer. */
async function benefitPayments(view, residentId) {
  let answer;
  try {
    answer = await api.get(`residents/${residentId}/benefits`);
  } catch {
    return;
  }
  if (!answer?.items?.length) return;
  view.append(h("div", { class: "card", id: "benefit-payments" }, h("h2", {}, "待遇发放记录"),
    h("ul", { class: "list" }, answer.items.map((item) => h("li", { class: "line" },
      h("span", {}, item.month.replace("-", "年") + "月", item.arrears ? "（补发）" : ""), h("span", { class: "amount" }, yuan(item.total_fen)))))));
}
