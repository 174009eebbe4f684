// Building the page out of DOM nodes, and the small formats every view shares.
//
// Card text (titles, bodies, logs, comments, commands) comes from people and agents, so
// it only ever enters the page as text: `el` turns every string child into a text node
// and nothing in the page assigns innerHTML. A card titled `<img src=x onerror=...>`
// shows exactly those characters.

/** The statuses, in the order the board shows their columns. */
export const STATUSES = [
  "backlog", "waiting", "ready", "running", "needs_input", "review", "done", "failed", "cancelled",
];
export const FINAL = new Set(["done", "failed", "cancelled"]);
/** Where `cancel` applies (the store's CANCELLABLE) and where `retry` does. */
export const CANCELLABLE = new Set([
  "backlog", "waiting", "ready", "running", "needs_input", "review", "failed",
]);
export const RETRYABLE = new Set(["failed", "cancelled"]);

/** A status as people read it. */
export function statusName(status) {
  return status === "needs_input" ? "needs input" : status;
}

/**
 * A new element: `props` sets properties (className, type, title, hidden...), `dataset`
 * and `attrs` (plain attributes); children are nodes or strings (as text, never markup).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { dataset, attrs, ...rest } = props;
  Object.assign(node, rest);
  if (dataset) Object.assign(node.dataset, dataset);
  if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  append(node, children);
  return node;
}

/** Append children (nodes, strings, null to skip, nested arrays) to `node`. */
export function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Replace everything inside `node` with `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A link to a card's detail (`#card-ID`), as `#ID`. */
export function cardLink(id, text) {
  return el("a", { href: `#card-${id}`, className: "card-ref" }, text ?? `#${id}`);
}

/** "#3, #4" as links, for dependency lists. */
export function cardLinks(ids) {
  const out = [];
  ids.forEach((id, index) => {
    if (index) out.push(", ");
    out.push(cardLink(id));
  });
  return out;
}

const UNITS = [
  [86400, "d"],
  [3600, "h"],
  [60, "m"],
  [1, "s"],
];

/** How long ago `iso` was: "now", "42s", "5m", "3h", "2d". */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 5) return "now";
  for (const [size, unit] of UNITS) if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  return "now";
}

/** "just now" or "5m ago", for sentences. */
export function ago(iso, now = Date.now()) {
  const said = age(iso, now);
  return said === "now" ? "just now" : `${said} ago`;
}

/** A span of time in seconds as "850 ms", "12.3 s", "4m 05s", "2h 10m". */
export function span(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** A moment as local date and time, to the second. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = new Date().toDateString() === date.toDateString();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return today ? time : `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

/** Dollars: four decimals under a dollar (agent runs cost fractions of a cent). */
export function money(usd) {
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

const NUMBERS = new Intl.NumberFormat("en-US");

/** A count with thousands separated. */
export function count(n) {
  return NUMBERS.format(n);
}

/** Tokens and cost over a card's runs (null where no run reported them). */
export function spend(runs) {
  let tokensIn = null;
  let tokensOut = null;
  let cost = null;
  for (const run of runs) {
    if (run.tokens_in != null) tokensIn = (tokensIn ?? 0) + run.tokens_in;
    if (run.tokens_out != null) tokensOut = (tokensOut ?? 0) + run.tokens_out;
    if (run.cost_usd != null) cost = (cost ?? 0) + run.cost_usd;
  }
  return { tokensIn, tokensOut, cost };
}
