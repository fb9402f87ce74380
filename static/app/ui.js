// Building the page: elements with text only (nothing from the API ever becomes markup), notices, sheets.

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  append(element, children);
  return element;
}

/** A notice: what happened, and (optionally) what to do next. Replaces any notice already in `where`. */
export function notice(where, what, next = "", kind = "error") {
  where.querySelector(":scope > .notice")?.remove();
  const box = h("div", { class: `notice ${kind === "info" ? "info" : ""}`, role: kind === "info" ? "status" : "alert" },
    h("p", { class: "what" }, what), next ? h("p", { class: "next" }, next) : null);
  where.prepend(box);
  box.scrollIntoView?.({ block: "nearest" });
  return box;
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

/** One sheet at a time over the screen (a stand-in for the WeChat client's own sheets). */
export function openSheet(title, ...content) {
  const layer = document.getElementById("sheet-layer");
  const sheet = h("div", { class: "sheet", role: "dialog", "aria-modal": "true", "aria-label": title },
    h("h2", {}, title), ...content);
  layer.replaceChildren(sheet);
  layer.hidden = false;
  sheet.querySelector("button, input")?.focus();
  return () => { layer.hidden = true; layer.replaceChildren(); };
}

export function busy(button, text) {
  const before = button.textContent;
  button.disabled = true;
  button.textContent = text;
  return () => { button.disabled = false; button.textContent = before; };
}
