// The balance over the years by funding source, as an inline SVG of stacked bars (no chart library).

import { h, svg } from "./ui.js";
import { REDUCING, yuan } from "./format.js";

export const SOURCES = [
  ["personal", "个人缴费", "#0550ae"],
  ["government", "政府补贴", "#1a7f37"],
  ["collective", "集体补助", "#9a6700"],
  ["sponsor", "社会资助", "#8250df"],
  ["interest", "记账利息", "#bf3989"],
];
const SOURCE_OF = { personal: "personal", government_subsidy: "government", collective_subsidy: "collective", sponsorship: "sponsor", interest: "interest" };

/** Per year (oldest first): what each source has put in so far, less what was paid out (from the personal part first). */
export function yearlyBalances(entries) {
  const years = [...new Set(entries.map((entry) => entry.year))].sort((a, b) => a - b);
  const total = Object.fromEntries(SOURCES.map(([key]) => [key, 0]));
  return years.map((year) => {
    for (const entry of entries.filter((item) => item.year === year)) {
      if (REDUCING.has(entry.kind)) total.personal -= entry.amount_fen;
      else if (SOURCE_OF[entry.kind]) total[SOURCE_OF[entry.kind]] += entry.amount_fen;
    }
    return { year, parts: { ...total } };
  });
}

export function balanceChart(entries) {
  const rows = yearlyBalances(entries);
  if (!rows.length) return h("p", { class: "muted" }, "还没有缴费，暂时没有图表。");
  const totals = rows.map((row) => Object.values(row.parts).reduce((a, b) => a + Math.max(b, 0), 0));
  const top = Math.max(...totals, 1);
  const width = 320, height = 220, left = 8, bottom = 28, gap = 6;
  const bar = Math.min(48, (width - left) / rows.length - gap);
  const scale = (height - bottom - 32) / top;
  const every = Math.ceil((rows.length * 48) / width); // a year label every `every` bars, so that they never overlap
  const bars = rows.map((row, index) => {
    const x = left + index * (bar + gap);
    let y = height - bottom;
    const pieces = SOURCES.map(([key, , colour]) => {
      const size = Math.max(row.parts[key], 0) * scale;
      y -= size;
      return size > 0 ? svg("rect", { x, y, width: bar, height: size, fill: colour }) : null;
    }).filter(Boolean);
    const total = index === rows.length - 1
      ? svg("text", { x: x < width / 2 ? x : x + bar, y: y - 8, "text-anchor": x < width / 2 ? "start" : "end", "font-size": "18", fill: "#1f2328" }, yuan(totals[index]))
      : null;
    const label = (rows.length - 1 - index) % every ? null
      : svg("text", { x: x + bar / 2, y: height - 6, "text-anchor": "middle", "font-size": "18", fill: "#1f2328" }, String(row.year));
    return svg("g", {}, ...pieces, label, total);
  });
  const last = rows[rows.length - 1];
  const label = `账户余额逐年变化：${rows.map((row, i) => `${row.year}年 ${yuan(totals[i])}`).join("，")}。`;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    svg("title", {}, label),
    svg("line", { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, stroke: "#4d555e" }), ...bars);
  const legend = h("ul", { class: "legend" },
    SOURCES.filter(([key]) => last.parts[key] > 0).map(([key, text]) => h("li", {}, h("span", { class: `swatch s-${key}`, "aria-hidden": "true" }), text)));
  return h("figure", { class: "chart" }, chart, legend);
}
