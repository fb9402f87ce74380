// The certificate verification page: asks the API about the token in this page's address and
// shows the verdict. Text is only ever set with textContent (nothing from the API becomes markup).
"use strict";

const VERDICTS = {
  valid: { css: "genuine", mark: "✓", text: "真实有效", note: "本证明由山西省城乡居民补充养老保险经办系统开具，信息如下。" },
  revoked: { css: "revoked", mark: "✗", text: "已撤销", note: "本证明已被撤销，不再有效。" },
  invalid: { css: "invalid", mark: "✗", text: "无效", note: "无法核验此证明：二维码或链接可能被篡改或伪造。" },
  busy: { css: "unknown", mark: "!", text: "暂时无法核验", note: "查询过于频繁，请稍后再试。" },
  offline: { css: "unknown", mark: "!", text: "暂时无法核验", note: "网络或服务暂时不可用，请稍后重试。" },
};

function tokenFromAddress() {
  const parts = window.location.pathname.split("/");
  return parts[parts.length - 1] || "";
}

function formatYuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const yuan = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${yuan}.${String(abs % 100).padStart(2, "0")} 元`;
}

function formatDate(instant) {
  // Instants come with the +08:00 offset, so the date part is already the Beijing-time date.
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(instant || "");
  return match ? `${match[1]}年${Number(match[2])}月${Number(match[3])}日` : "";
}

function showVerdict(name) {
  const verdict = VERDICTS[name];
  document.getElementById("verdict").className = `verdict ${verdict.css}`;
  document.getElementById("verdict-mark").textContent = verdict.mark;
  document.getElementById("verdict-text").textContent = verdict.text;
  document.getElementById("verdict-note").textContent = verdict.note;
}

function showFacts(result) {
  const values = {
    "certificate-no": result.certificate_no,
    "holder-name": result.name,
    "holder-id": result.id_number,
    "year": `${result.year}年度`,
    "amount": formatYuan(result.amount_fen),
    "paid-on": formatDate(result.paid_at),
    "issued-on": formatDate(result.issued_at),
  };
  for (const [id, value] of Object.entries(values)) {
    document.getElementById(id).textContent = value;
  }
  document.getElementById("facts").hidden = false;
}

function verdictOf(result) {
  if (result.valid === true && result.status === "valid") return "valid";
  return result.status === "revoked" ? "revoked" : "invalid";
}

async function verify() {
  const token = tokenFromAddress();
  let response;
  try {
    response = await fetch(`../api/v1/verify/${encodeURIComponent(token)}`, {
      headers: { Accept: "application/json" },
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    showVerdict("offline");
    return;
  }
  if (!response.ok) {
    showVerdict(response.status === 429 ? "busy" : "offline");
    return;
  }
  const result = await response.json();
  showVerdict(verdictOf(result));
  if (result.certificate_no) showFacts(result);
}

document.addEventListener("DOMContentLoaded", verify);
