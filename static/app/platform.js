// The platform: what the WeChat client does for the mini-program. This is the browser implementation,
// backed by the sandbox (GET /app/sandbox.json, served outside production only). A WeChat build replaces
// this one module with one of the same shape calling wx.login, wx.startFacialRecognitionVerify,
// wx.requestPayment, wx.downloadFile + wx.openDocument and wx.scanCode.

import { h, openSheet } from "./ui.js";
import { yuan } from "./format.js";

const PERSON = "pension.sandbox.person";
let settings;

async function sandbox() {
  if (settings === undefined) {
    try {
      const response = await fetch("sandbox.json", { headers: { Accept: "application/json" } });
      settings = response.ok ? await response.json() : null;
    } catch {
      settings = null;
    }
  }
  if (!settings) throw new PlatformError("platform_unavailable");
  return settings;
}

export class PlatformError extends Error {}

function chosen() {
  return JSON.parse(sessionStorage.getItem(PERSON) || "null");
}

function freshSuffix() {
  return crypto.getRandomValues(new Uint32Array(2)).join("");
}

export const platform = {
  name: "sandbox",

  /** The WeChat users this device may log in as: the sandbox's demo people (WeChat: null, the user is the phone's). */
  async accounts() {
    return (await sandbox()).people;
  },

  /** wx.login: a one-time login code for `account` (one of accounts()). */
  async login(account) {
    sessionStorage.setItem(PERSON, JSON.stringify(account));
    return `test:${account.key}:${freshSuffix()}`;
  },

  /** What the device knows of its user's identity, to fill in the real-name form (WeChat: nothing). */
  knownIdentity() {
    const person = chosen();
    return person ? { name: person.name, idNumber: person.id_number } : null;
  },

  forget() {
    sessionStorage.removeItem(PERSON);
  },

  /** wx.startFacialRecognitionVerify: the verify_result of a face check of this user for this name and ID number. */
  async faceCheck({ name, idNumber }) {
    const { wechat_base: base } = await sandbox();
    const person = chosen();
    if (!person) throw new PlatformError("face_verification_failed");
    let response;
    try {
      response = await fetch(`${base}/sandbox/face-verify`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code: `test:${person.key}`, name, id_number: idNumber }),
      });
    } catch {
      throw new PlatformError("wechat_unavailable");
    }
    if (!response.ok) throw new PlatformError("face_verification_failed");
    return (await response.json()).verify_result;
  },

  /** wx.requestPayment: resolves once the user paid, rejects with PlatformError("cancelled") if they did not. */
  requestPayment(payParams, { amountFen, subsidyFen = 0, what }) {
    return new Promise((resolve, reject) => {
      const pay = h("button", { class: "primary", type: "button", onclick: () => confirm() }, `确认支付 ${yuan(amountFen)}`);
      const cancel = h("button", { type: "button", onclick: () => { close(); reject(new PlatformError("cancelled")); } }, "暂不支付");
      const close = openSheet("支付（沙箱税务局）",
        h("p", {}, what), h("p", { class: "big" }, yuan(amountFen)),
        subsidyFen ? h("p", {}, `另有政府补贴 ${yuan(subsidyFen)} 记入账户`) : null,
        h("p", { class: "muted small" }, "演示环境：由沙箱税务局收款，不会真的扣钱。"), pay, cancel);
      async function confirm() {
        pay.disabled = true;
        try {
          await fetch(payParams.sandbox_pay_url, {
            method: "POST", mode: "no-cors", body: new URLSearchParams({ channel: "wechat" }),
          });
          close();
          resolve();
        } catch {
          close();
          reject(new PlatformError("tax_bureau_unavailable"));
        }
      }
    });
  },

  /** wx.downloadFile + wx.openDocument: show a document (a PDF the app fetched with its token). */
  openDocument(blob) {
    const url = URL.createObjectURL(blob);
    window.open(url, "_blank", "noopener");
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  },

  /** wx.scanCode: the text of a QR code. In a browser the user pastes or types the link the code holds. */
  scanCode() {
    return new Promise((resolve, reject) => {
      const field = h("input", { id: "scan-text", type: "url", inputmode: "url", autocomplete: "off" });
      const ok = h("button", { class: "primary", type: "button", onclick: () => { close(); resolve(field.value.trim()); } }, "确定");
      const cancel = h("button", { type: "button", onclick: () => { close(); reject(new PlatformError("cancelled")); } }, "取消");
      const close = openSheet("扫一扫",
        h("p", { class: "muted small" }, "浏览器里不能用相机扫码：请把二维码里的链接粘贴到这里。"),
        h("label", { for: "scan-text" }, "二维码链接"), field, ok, cancel);
    });
  },
};
