// A card's detail: what it is, what it waits for, its runs, events and live log, and
// the buttons that apply to it now.
//
// The board hands every fresh copy of a card to `cardChanged`, so the panel follows the
// same event stream as the columns. The log has its own stream
// (`/api/cards/{id}/log/stream`): what the log holds, then each new chunk as the worker
// writes it, then `end` once the card has finished.

import { api, reported } from "./api.js";
import {
  CANCELLABLE, FINAL, RETRYABLE, ago, cardLink, cardLinks, count, el, fill, money, span, spend,
  statusName, when,
} from "./dom.js";

const $ = (id) => document.getElementById(id);
/** Characters of log kept in the page; older output is dropped from the top. */
const LOG_LIMIT = 2_000_000;

export class Detail {
  /** `board` gives the cards the page holds and takes the cards actions return. */
  constructor(board) {
    this.board = board;
    this.id = null;
    this.doc = null;
    this.request = null;
    this.log = null; // { source, run, size, ended }
    this.goalTimer = 0;
    this.tree = new Set(); // the ids of the open goal's cards, at every depth
    this.bind();
  }

  // -- opening and closing ----------------------------------------------------------------

  async open(id) {
    if (this.id === id) return;
    this.close({ keepHash: true });
    this.id = id;
    const panel = $("detail");
    panel.hidden = false;
    document.body.classList.add("detail-open");
    const known = this.board.card(id);
    this.doc = known ? { ...known, runs: [], events: [] } : null;
    if (this.doc) this.render();
    else {
      fill($("d-title"), `card ${id}`);
      fill($("d-id"), `#${id}`);
    }
    panel.classList.toggle("loading", !known); // nothing of another card shows meanwhile
    $("detail").focus({ preventScroll: true });
    const doc = await reported(() => api("GET", `/api/cards/${id}`));
    if (this.id !== id) return;
    if (doc === null) {
      this.close();
      return;
    }
    this.board.changed(doc); // the board's copy is refreshed too, and comes back here
    this.streamLog();
  }

  close({ keepHash = false } = {}) {
    if (this.id === null) return;
    this.stopLog();
    this.id = null;
    this.doc = null;
    this.request = null;
    $("detail").hidden = true;
    document.body.classList.remove("detail-open");
    this.tree = new Set();
    this.board.closed();
    if (!keepHash && location.hash.startsWith("#card-")) {
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  /** A fresh copy of a card (a `show` document, or a card object after an action). */
  cardChanged(doc) {
    if (doc.id !== this.id) return;
    const full = Array.isArray(doc.runs);
    const before = this.doc;
    this.doc = full ? doc : { ...doc, runs: before?.runs ?? [], events: before?.events ?? [] };
    $("detail").classList.remove("loading");
    this.render();
    if (!full) return;
    if (this.log?.ended && !FINAL.has(doc.status)) this.streamLog(); // retried: a new run
    if (doc.labels.includes("goal")) this.goalSoon();
  }

  /** A card with a parent changed: when the parent is in the open goal's tree, the tree
   * is drawn again. */
  childChanged(parentId) {
    if (parentId === this.id || this.tree.has(parentId)) this.goalSoon();
  }

  // -- drawing ----------------------------------------------------------------------------

  render() {
    const card = this.doc;
    const pill = $("d-status");
    pill.textContent = statusName(card.status);
    pill.dataset.status = card.status;
    $("d-id").textContent = `#${card.id}`;
    $("d-title").textContent = card.title;
    this.renderMeta(card);
    this.renderRequest(card);
    $("act-retry").hidden = !RETRYABLE.has(card.status);
    $("act-cancel").hidden = !CANCELLABLE.has(card.status);
    $("d-goal").hidden = !card.labels.includes("goal");
    $("d-body").textContent = card.body || "(no body)";
    $("d-result-section").hidden = !card.result;
    $("d-result").textContent = card.result ?? "";
    this.renderRuns(card.runs);
    this.renderEvents(card.events);
  }

  renderMeta(card) {
    const rows = [
      ["profile", card.profile + (card.model ? ` · ${card.model}` : "")],
      ["attempts", `${card.attempts} of ${card.max_attempts}` + (card.timeout ? ` · ${span(card.timeout)} each` : "")],
      ["created", [when(card.created_at), el("span", { className: "muted" }, ` (${ago(card.created_at)}, by ${card.source})`)]],
      card.updated_at !== card.created_at ? ["updated", when(card.updated_at)] : null,
    ];
    if (card.priority) rows.push(["priority", String(card.priority)]);
    if (card.labels.length) rows.push(["labels", card.labels.join(", ")]);
    if (card.parent_id != null) rows.push(["goal", cardLink(card.parent_id, `#${card.parent_id} ${this.title(card.parent_id)}`)]);
    if (card.depends_on.length) rows.push(["after", this.deps(card.depends_on, card.blocked_by)]);
    if (card.dependents.length) rows.push(["before", cardLinks(card.dependents)]);
    if (card.not_before) rows.push(["not before", when(card.not_before)]);
    if (card.repo) rows.push(["repo", `${card.repo}${card.branch ? ` @ ${card.branch}` : ""}`]);
    if (card.worktree) rows.push(["worktree", card.worktree]);
    const { tokensIn, tokensOut, cost } = spend(card.runs);
    if (tokensIn != null || cost != null) {
      const parts = [];
      if (tokensIn != null) parts.push(`${count(tokensIn)} in / ${count(tokensOut ?? 0)} out tokens`);
      if (cost != null) parts.push(money(cost));
      rows.push(["spent", parts.join(" · ")]);
    }
    fill($("d-meta"), rows.filter(Boolean).map(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  }

  title(id) {
    return this.board.card(id)?.title ?? "";
  }

  deps(ids, blocked) {
    const out = [];
    ids.forEach((id, index) => {
      if (index) out.push(", ");
      out.push(cardLink(id));
      if (blocked.includes(id)) out.push(el("span", { className: "muted" }, " (not done)"));
    });
    return out;
  }

  renderRequest(card) {
    const section = $("d-request");
    if (card.status !== "needs_input") {
      section.hidden = true;
      this.request = null;
      return;
    }
    const key = `${card.id}@${card.updated_at}`;
    let request = pendingRequest(card.events);
    if (!request) {
      if (this.request?.key !== key) this.fetchRequest(card, key);
      request = this.request?.request;
    }
    section.hidden = !request;
    if (!request) return;
    const approval = request.kind === "approval";
    $("d-request-title").textContent = approval ? "Waiting for approval to run" : "Waiting for an answer";
    const command = $("d-request-command");
    command.hidden = !approval;
    command.textContent = approval ? request.command ?? "" : "";
    const risk = $("d-request-risk");
    risk.hidden = !approval || !request.risk;
    risk.dataset.risk = request.risk ?? "";
    risk.textContent = request.risk ? `${request.risk} risk` : "";
    $("d-request-text").textContent = approval ? request.reason ?? "" : request.question ?? "";
    $("d-approval").hidden = !approval;
    $("reply-form").hidden = approval;
  }

  /** The request from `/api/approvals`, while the card's own events are not loaded yet. */
  async fetchRequest(card, key) {
    this.request = { key, request: null };
    const waiting = await reported(() => api("GET", "/api/approvals"));
    if (this.request?.key !== key || !waiting) return;
    const found = waiting.find((c) => c.id === card.id);
    this.request = { key, request: found ? found.request : null };
    if (this.doc?.id === card.id) this.renderRequest(this.doc);
  }

  renderRuns(runs) {
    const head = el("tr", {}, ["#", "outcome", "started", "took", "tokens", "cost", ""].map((h) => el("th", {}, h)));
    const rows = [...runs].reverse().map((run) => {
      const took = run.ended_at ? span((Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000) : "…";
      const tokens = run.tokens_in != null ? `${count(run.tokens_in)} / ${count(run.tokens_out ?? 0)}` : "";
      const why = run.error ?? (run.exit_code != null && run.exit_code !== 0 ? `exit ${run.exit_code}` : "");
      return el(
        "tr",
        { dataset: { outcome: run.outcome ?? "live" } },
        el("td", {}, String(run.attempt)),
        el("td", { className: "outcome" }, run.outcome ?? "live"),
        el("td", {}, when(run.started_at)),
        el("td", {}, took),
        el("td", {}, tokens),
        el("td", {}, run.cost_usd != null ? money(run.cost_usd) : ""),
        el("td", { className: "why" }, why),
      );
    });
    fill($("d-runs"), el("thead", {}, head), el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colSpan: 7, className: "muted" }, "no runs yet"))));
  }

  renderEvents(events) {
    const items = [...events].reverse().map((event) =>
      el(
        "li",
        { dataset: { kind: event.kind } },
        el("time", { dateTime: event.at, title: event.at }, when(event.at)),
        el("span", { className: "ev-kind" }, event.kind),
        el("span", { className: "ev-actor" }, event.actor),
        el("span", { className: "ev-text" }, describe(event)),
      ),
    );
    fill($("d-events"), items);
  }

  // -- the goal's tree --------------------------------------------------------------------

  goalSoon() {
    clearTimeout(this.goalTimer);
    this.goalTimer = setTimeout(() => this.renderGoal(), 50);
  }

  async renderGoal() {
    const id = this.id;
    if (id === null || !this.doc?.labels.includes("goal")) return;
    const report = await reported(() => api("GET", `/api/goals/${id}`));
    if (!report || this.id !== id) return;
    const last = report.verdicts.at(-1);
    fill(
      $("d-goal-summary"),
      `planner turn ${report.turns} of ${report.budget} · ${report.children.length} card${report.children.length === 1 ? "" : "s"}`,
      last ? ` · last verdict: ${last.done ? "met" : "not met"}${last.reason ? ` (${last.reason})` : ""}` : "",
    );
    const seen = new Set([id]);
    const branch = (cards) =>
      cards.map((child) => {
        seen.add(child.id);
        const below = this.board.children(child.id).filter((c) => !seen.has(c.id));
        return el(
          "li",
          {},
          el("span", { className: "pill small", dataset: { status: child.status } }, statusName(child.status)),
          " ",
          cardLink(child.id, `#${child.id} ${child.title}`),
          below.length ? el("ul", {}, branch(below)) : null,
        );
      });
    const children = report.children.map((c) => this.board.card(c.id) ?? c);
    this.tree = seen;
    fill($("d-goal-tree"), children.length ? branch(children) : el("li", { className: "muted" }, "no cards planned yet"));
  }

  // -- the live log -----------------------------------------------------------------------

  streamLog() {
    this.stopLog();
    const id = this.id;
    const pre = $("d-log");
    pre.replaceChildren();
    const source = new EventSource(`/api/cards/${id}/log/stream`);
    const log = { source, run: null, size: 0, ended: false, opened: false };
    this.log = log;
    const state = (text) => ($("d-log-state").textContent = text);
    state("connecting");
    source.addEventListener("open", () => {
      // A stream that starts again sends the whole log again.
      if (log.opened && !source.lastEventId) {
        pre.replaceChildren();
        log.run = null;
        log.size = 0;
      }
      log.opened = true;
      state("live");
    });
    source.addEventListener("log", (message) => {
      const chunk = JSON.parse(message.data);
      this.appendLog(chunk.run, chunk.text);
    });
    source.addEventListener("end", (message) => {
      source.close();
      log.ended = true;
      let status = message.data;
      try {
        status = JSON.parse(message.data);
      } catch {
        // plain text
      }
      state(`ended: ${statusName(String(status))}`);
      if (!pre.firstChild) pre.append(el("span", { className: "muted" }, "(no output)"));
    });
    source.addEventListener("error", () => {
      if (log.ended) return;
      if (source.readyState === EventSource.CLOSED) state("disconnected");
      else state("reconnecting");
    });
  }

  appendLog(run, text) {
    const pre = $("d-log");
    const log = this.log;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    if (run !== log.run) {
      if (log.run !== null || this.doc?.runs.length > 1) pre.append(el("span", { className: "run-mark" }, `── run ${run} ──\n`));
      log.run = run;
    }
    pre.append(document.createTextNode(text));
    log.size += text.length;
    while (log.size > LOG_LIMIT && pre.firstChild) {
      log.size -= pre.firstChild.textContent.length;
      pre.firstChild.remove();
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  stopLog() {
    if (this.log) this.log.source.close();
    this.log = null;
    $("d-log-state").textContent = "";
  }

  // -- the buttons ------------------------------------------------------------------------

  bind() {
    $("detail-close").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.id !== null && !document.querySelector("dialog[open]")) this.close();
    });
    $("act-approve").addEventListener("click", (e) => this.act(e.currentTarget, "approve", {}));
    $("act-reject").addEventListener("click", (e) => {
      const reason = $("reject-reason").value.trim();
      this.act(e.currentTarget, "reject", reason ? { reason } : {}).then((ok) => ok && ($("reject-reason").value = ""));
    });
    $("act-retry").addEventListener("click", (e) => this.act(e.currentTarget, "retry", {}));
    $("act-cancel").addEventListener("click", (e) => this.confirmCancel(e.currentTarget));
    this.textForm("reply-form", "reply-text", "act-reply", "reply");
    this.textForm("comment-form", "comment-text", "act-comment", "comment");
  }

  textForm(formId, inputId, buttonId, action) {
    $(formId).addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = $(inputId);
      const ok = await this.act($(buttonId), action, { text: input.value });
      if (ok) input.value = "";
    });
  }

  /** Cancelling needs a second press within a few seconds (no browser dialog). */
  confirmCancel(button) {
    if (button.dataset.armed) {
      delete button.dataset.armed;
      button.textContent = "Cancel card";
      this.act(button, "cancel", {});
      return;
    }
    button.dataset.armed = "1";
    button.textContent = "Press again to cancel";
    setTimeout(() => {
      delete button.dataset.armed;
      button.textContent = "Cancel card";
    }, 4000);
  }

  async act(button, action, body) {
    const id = this.id;
    button.disabled = true;
    try {
      const card = await reported(() => api("POST", `/api/cards/${id}/${action}`, body));
      if (card) {
        if (action === "approve" || action === "reject" || action === "reply") this.request = null;
        this.board.changed(card);
      }
      return card !== null;
    } finally {
      button.disabled = false;
    }
  }
}

const ANSWERS = new Set(["approved", "rejected", "answered"]);

/** What the card's run asked for, if its last pause has no answer yet (as the store
 * reads it: the last `needs_input` event's data without its status change). */
function pendingRequest(events) {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i];
    if (ANSWERS.has(event.kind)) return null;
    if (event.kind === "needs_input") {
      const { from, to, ...request } = event.data ?? {};
      return request;
    }
  }
  return null;
}

/** One line about an event: its status change and whatever it carries. */
function describe(event) {
  const data = event.data ?? {};
  const parts = [];
  if (data.to) parts.push(data.from ? `${statusName(data.from)} → ${statusName(data.to)}` : `→ ${statusName(data.to)}`);
  for (const key of ["command", "question", "answer", "text", "reason", "error", "result"]) {
    if (typeof data[key] === "string" && data[key]) parts.push(`${key === "text" ? "" : `${key}: `}${data[key]}`);
  }
  if (data.risk) parts.push(`${data.risk} risk`);
  if (parts.length === 0) {
    const rest = Object.entries(data).filter(([k]) => k !== "from" && k !== "to");
    for (const [key, value] of rest) parts.push(`${key} ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return parts.join(" · ");
}
