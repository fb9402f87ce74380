// How amounts, dates and codes read on the screens.

export function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = abs % 100;
  return `${sign}${whole}${cents ? "." + String(cents).padStart(2, "0") : ""} 元`;
}

export function date(instant) {
  // Instants come with the +08:00 offset, so the date part is already the Beijing-time date.
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(instant || "");
  return match ? `${match[1]}年${Number(match[2])}月${Number(match[3])}日` : "";
}

export function dateTime(instant) {
  const match = /T(\d{2}):(\d{2})/.exec(instant || "");
  return match ? `${date(instant)} ${match[1]}:${match[2]}` : date(instant);
}

export const STATUS = { contributing: "缴费中", eligible: "可以领取待遇", receiving: "正在领取待遇", closed: "账户已终止" };
export const RELATION = { child: "子女", spouse: "配偶", other_supporter: "其他赡养人" };
export const ENTRY_KIND = {
  personal: "个人缴费",
  government_subsidy: "政府补贴",
  collective_subsidy: "集体补助",
  sponsorship: "社会资助",
  interest: "记账利息",
  benefit_payout: "待遇发放",
  recovery: "追回",
  inheritance_payout: "继承支付",
};
export const FUNDER = {
  self: "本人缴费",
  supporter: "家人代缴",
  government: "政府",
  sponsor: "社会资助",
  village_collective: "村集体",
  bookkeeping_interest: "记账利息",
  benefit: "待遇",
  inheritance: "继承",
};
export const PAYER = { self: "本人", supporter: "家人代缴", government: "政府代缴", sponsor: "社会资助" };
export const CHANNEL = { wechat: "微信支付", bank_app: "银行App", counter: "柜台" };
export const REDUCING = new Set(["benefit_payout", "recovery", "inheritance_payout"]);

/** The last day before an end instant (a window closing at 00:00 on the 26th ends on the 25th), Beijing time. */
export function lastDay(endInstant) {
  const beijing = new Date(Date.parse(endInstant) - 1000 + 8 * 3600 * 1000);
  return date(beijing.toISOString());
}
