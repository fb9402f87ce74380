// One way to tell a resident what went wrong: the table's sentence for the code, plus the problem's own
// values (the next opening, the day a certificate becomes available, a reason), never raw JSON or English.

import { Problem, sentence } from "./api.js";
import { date } from "./format.js";
import { PlatformError } from "./platform.js";
import { notice } from "./ui.js";

export function describe(error) {
  if (error instanceof PlatformError) return { what: sentence(error.message, "手机上的这项功能暂时不能使用，请稍后再试。"), next: "" };
  if (!(error instanceof Problem)) return { what: sentence("error"), next: "" };
  const body = error.body;
  const what = body.reason ? sentence(body.reason, sentence(error.code, body.detail)) : sentence(error.code, body.detail);
  return { what, next: nextStep(body) };
}

function nextStep(body) {
  if (body.opens_at) return `下次缴费期从${date(body.opens_at)}开始。`;
  if (body.available_at) return `可以开具的日期：${date(body.available_at)}。`;
  if (body.code === "rate_limited") return "请过一会儿再点。";
  if (body.errors) return `请检查：${Object.keys(body.errors).map(fieldName).join("、")}。`;
  return "";
}

const FIELDS = { id_number: "身份证号码", name: "姓名", parent_id_number: "身份证号码", parent_name: "姓名", year: "年度", tier_fen: "缴费档次", years: "年数" };

function fieldName(field) {
  return FIELDS[field] || "填写的内容";
}

export function showProblem(where, error) {
  const { what, next } = describe(error);
  return notice(where, what, next);
}
