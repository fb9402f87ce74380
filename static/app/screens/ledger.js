// 缴费记录: the account's entries, newest first, with who paid each one; a page at a time.

import * as api from "../api.js";
import { ENTRY_KIND, FUNDER, REDUCING, date, yuan } from "../format.js";
import { showProblem } from "../problems.js";
import { h } from "../ui.js";

export async function render(view, [residentId], app) {
  app.title(app.isSelf(residentId) ? "缴费记录" : `${app.nameOf(residentId)}的缴费记录`);
  const list = h("ul", { class: "list", id: "ledger" });
  const more = h("button", { type: "button", hidden: true }, "看更早的记录");
  view.append(list, more);
  let page = 1;
  const load = async () => {
    const answer = await api.get(`residents/${residentId}/ledger?page=${page}`);
    list.append(...answer.items.map(row));
    page = answer.next_page;
    more.hidden = !page;
    if (!list.children.length) list.replaceWith(h("p", { class: "muted", id: "ledger" }, "还没有记录。"));
  };
  more.addEventListener("click", () => load().catch((error) => showProblem(view, error)));
  await load();
}

function row(entry) {
  const minus = REDUCING.has(entry.kind);
  const who = FUNDER[entry.funder] || "";
  return h("li", {},
    h("div", { class: "line" },
      h("strong", {}, `${entry.year}年 ${ENTRY_KIND[entry.kind] || ""}`),
      h("span", { class: `amount${minus ? " minus" : ""}` }, `${minus ? "-" : "+"}${yuan(entry.amount_fen)}`)),
    h("div", { class: "line muted small" }, h("span", {}, who), h("span", {}, date(entry.booked_at))));
}
