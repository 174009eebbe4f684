// The live board: a column per status, kept current by the board's event stream.
//
// The page follows `/api/events`: each event names a card, and that one card is fetched
// again (several events of a card in a burst make one fetch). Nothing polls the list.
// The list is fetched at once, beside the stream, to draw the board without waiting;
// as it may predate the moment the stream began, it is fetched once more when the
// stream is open and only the cards that differ are drawn again. When the stream drops,
// the browser reconnects by itself and resumes after the last event it saw
// (Last-Event-ID); if the server refuses the stream outright, the page opens a new one
// after a pause and checks the list again, as it cannot know what it missed.

import { api, hideError, reported, showError } from "./api.js";
import { Detail } from "./detail.js";
import {
  FINAL, STATUSES, age, cardLinks, count, el, fill, money, spend, statusName,
} from "./dom.js";

const $ = (id) => document.getElementById(id);

const state = {
  cards: new Map(), // id -> card object, as the API gives it
  costs: new Map(), // id -> total cost in USD over its runs, once known
  nodes: new Map(), // id -> the card's element on the board
  lists: new Map(), // status -> the column's list element
  heads: new Map(), // status -> { count, chip } for the counts
  loaded: false,
  stale: true, // the list must be (re)loaded once the event stream is open
  loading: null,
  again: null, // another load asked for while one was under way
  missed: new Set(), // cards with events that arrived while the list was loading
  pending: new Map(), // card id -> the timer of its coming refetch
  profiles: new Set(), // profiles the add form suggests
  filter: "",
  showAll: false,
  stream: null,
  seenEvent: false, // whether this stream has had an event (and so an id to resume from)
  retryDelay: 1000,
};

const detail = new Detail({
  card: (id) => state.cards.get(id),
  children: (id) => [...state.cards.values()].filter((c) => c.parent_id === id),
  changed: (doc) => updateCard(doc),
  closed: () => unselect(),
});

// -- columns and cards --------------------------------------------------------------------

function buildColumns() {
  const board = $("board");
  const jump = $("jump");
  for (const status of STATUSES) {
    const counter = el("span", { className: "col-count" }, "0");
    const list = el("div", { className: "col-list", attrs: { role: "list" } });
    const column = el(
      "section",
      { className: "column", id: `col-${status}`, dataset: { status }, attrs: { "aria-label": statusName(status) } },
      el("h2", { className: "col-head" }, el("span", { className: "col-name" }, statusName(status)), counter),
      list,
    );
    board.append(column);
    const chip = el("button", { type: "button", className: "chip", dataset: { status } }, statusName(status), " ", el("span", { className: "chip-count" }, "0"));
    chip.addEventListener("click", () => column.scrollIntoView({ behavior: "smooth", inline: "start", block: "nearest" }));
    jump.append(chip);
    state.lists.set(status, list);
    state.heads.set(status, { counter, column, chip: chip.querySelector(".chip-count") });
  }
}

/** Which card comes first in a column: finished ones newest first, the rest by the
 * order the dispatcher takes them (priority, then id). */
function before(a, b) {
  if (FINAL.has(a.status)) return a.updated_at > b.updated_at || (a.updated_at === b.updated_at && a.id > b.id);
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

/** The parts every card has, cloned for each card (cheaper than building them anew). */
const CARD = el(
  "article",
  { className: "card", tabIndex: 0, attrs: { role: "listitem" } },
  el("div", { className: "card-top" }, el("span", { className: "card-id" }), el("span", { className: "card-title" })),
  el("div", { className: "card-meta" }, el("span", { className: "profile" }), el("span", { className: "age" })),
);

/** A card's element: the text goes in as text, always. */
function cardNode(card) {
  const node = CARD.cloneNode(true);
  const [top, meta] = node.children;
  node.dataset.id = String(card.id);
  node.dataset.status = card.status;
  if (card.id === state.selected) node.classList.add("selected");
  top.firstChild.textContent = `#${card.id}`;
  top.lastChild.textContent = card.title;
  meta.firstChild.textContent = card.profile;
  const born = meta.lastChild;
  born.dataset.at = card.created_at;
  born.title = `created ${card.created_at}`;
  born.textContent = age(card.created_at);
  if (card.attempts > 0 || card.status === "failed") {
    meta.append(el("span", { className: "attempts", title: "attempts used / allowed" }, `${card.attempts}/${card.max_attempts}`));
  }
  const cost = card.cost_usd ?? state.costs.get(card.id) ?? null;
  if (cost != null) meta.append(el("span", { className: "cost", title: "cost of its runs" }, money(cost)));
  if (card.priority) meta.append(el("span", { className: "prio", title: "priority" }, `p${card.priority}`));
  if (card.blocked_by.length) node.append(el("div", { className: "card-deps" }, "blocked by ", cardLinks(card.blocked_by)));
  const isGoal = card.labels.includes("goal");
  if (isGoal || card.parent_id != null || card.labels.length) {
    const tags = el("div", { className: "card-tags" });
    if (isGoal) {
      node.classList.add("is-goal");
      tags.append(el("span", { className: "tag goal" }, "goal"));
    }
    if (card.parent_id != null) tags.append(el("span", { className: "tag child" }, `↳ goal #${card.parent_id}`));
    for (const label of card.labels) if (label !== "goal") tags.append(el("span", { className: "tag" }, label));
    node.append(tags);
  }
  return node;
}

function visible(card) {
  if (card.archived_at) return false;
  const q = state.filter;
  if (!q) return true;
  if (q.startsWith("#")) return String(card.id) === q.slice(1);
  const hay = `${card.id} ${card.title} ${card.profile} ${card.labels.join(" ")} ${card.status}`.toLowerCase();
  return q.split(/\s+/).every((word) => hay.includes(word));
}

/** Put a card's (new) element in its column, where its order says. */
function place(card) {
  const old = state.nodes.get(card.id);
  const node = cardNode(card);
  node.hidden = !visible(card);
  state.nodes.set(card.id, node);
  if (old) old.remove();
  const list = state.lists.get(card.status);
  let next = null;
  for (const child of list.children) {
    const other = state.cards.get(Number(child.dataset.id));
    if (other && before(card, other)) {
      next = child;
      break;
    }
  }
  list.insertBefore(node, next);
  costWatch.observe(node);
}

function renderAll() {
  for (const list of state.lists.values()) list.replaceChildren();
  state.nodes.clear();
  costWatch.disconnect();
  const by = new Map(STATUSES.map((s) => [s, []]));
  for (const card of state.cards.values()) by.get(card.status)?.push(card);
  for (const [status, cards] of by) {
    cards.sort((a, b) => (before(a, b) ? -1 : 1));
    const fragment = document.createDocumentFragment();
    for (const card of cards) {
      const node = cardNode(card);
      node.hidden = !visible(card);
      state.nodes.set(card.id, node);
      fragment.append(node);
    }
    state.lists.get(status).append(fragment);
  }
  for (const node of state.nodes.values()) costWatch.observe(node);
  counts();
}

function counts() {
  const totals = new Map(STATUSES.map((s) => [s, 0]));
  for (const card of state.cards.values()) if (!card.archived_at) totals.set(card.status, (totals.get(card.status) ?? 0) + 1);
  let all = 0;
  for (const [status, n] of totals) {
    const head = state.heads.get(status);
    head.counter.textContent = count(n);
    head.chip.textContent = count(n);
    head.column.classList.toggle("empty", n === 0);
    head.chip.parentNode.classList.toggle("empty", n === 0);
    all += n;
  }
  const waiting = totals.get("needs_input");
  fill(
    $("totals"),
    `${count(all)} card${all === 1 ? "" : "s"}`,
    waiting ? el("a", { className: "attention", href: "#col-needs_input" }, ` · ${waiting} need${waiting === 1 ? "s" : ""} you`) : null,
  );
  document.title = waiting ? `(${waiting}) hermes board` : "hermes board";
  // The add form suggests the profiles seen on the board.
  let grew = state.profiles.size === 0;
  if (grew) state.profiles.add("default");
  for (const card of state.cards.values()) {
    if (!state.profiles.has(card.profile)) {
      state.profiles.add(card.profile);
      grew = true;
    }
  }
  if (grew) fill($("profiles"), [...state.profiles].sort().map((p) => el("option", { value: p })));
}

/** A card as the API gave it now (a card object or a `show` document) onto the board. */
function updateCard(doc) {
  const previous = state.cards.get(doc.id);
  const card = { ...doc };
  if (Array.isArray(doc.runs)) {
    const { cost } = spend(doc.runs);
    if (cost != null) state.costs.set(doc.id, cost);
    delete card.runs;
    delete card.events;
  }
  state.cards.set(card.id, card);
  if (card.archived_at) {
    state.nodes.get(card.id)?.remove();
    state.nodes.delete(card.id);
  } else {
    place(card);
  }
  counts();
  if (previous && previous.status !== card.status) {
    // Its dependents' "blocked by" changes without an event of theirs.
    for (const id of card.dependents) if (state.cards.has(id)) refetchSoon(id);
  }
  detail.cardChanged(doc);
  if (card.parent_id != null) detail.childChanged(card.parent_id);
}

// -- costs: known from a card's runs, fetched when the card scrolls into view -------------

const costQueue = [];
let costBusy = 0;
const costWatch = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const id = Number(entry.target.dataset.id);
    costWatch.unobserve(entry.target);
    const card = state.cards.get(id);
    if (card && card.attempts > 0 && card.cost_usd === undefined && !state.costs.has(id)) costQueue.push(id);
  }
  pumpCosts();
});

function pumpCosts() {
  while (costBusy < 3 && costQueue.length) {
    const id = costQueue.shift();
    costBusy += 1;
    api("GET", `/api/cards/${id}`)
      .then((doc) => {
        const { cost } = spend(doc.runs);
        state.costs.set(id, cost);
        if (cost != null) updateCard(doc);
      })
      .catch(() => state.costs.set(id, null))
      .finally(() => {
        costBusy -= 1;
        pumpCosts();
      });
  }
}

// -- loading and following ----------------------------------------------------------------

/**
 * Load the card list: drawn whole the first time (or for another view), else compared
 * with the page and only the cards that differ drawn again. A load asked for while one
 * is under way runs after it: the list on its way may be older than the reason to ask.
 */
async function loadBoard({ redraw = false } = {}) {
  if (state.loading) {
    state.again = { redraw: redraw || Boolean(state.again?.redraw) };
    return state.loading;
  }
  state.loading = (async () => {
    try {
      const cards = await api("GET", `/api/cards${state.showAll ? "?all=true" : ""}`);
      if (!state.loaded || redraw) {
        state.cards = new Map(cards.map((c) => [c.id, c]));
        renderAll();
        state.loaded = true;
        document.body.dataset.loaded = "true";
        // Marked once the next frame has drawn the cards; `python -m bench web` reads it.
        afterPaint().then(() => performance.mark("board-rendered"));
      } else {
        reconcile(cards);
      }
      for (const id of state.missed) refetchSoon(id);
      state.missed.clear();
    } catch (err) {
      showError(err.message, { sticky: true });
    } finally {
      state.loading = null;
    }
    if (state.again) {
      const { redraw: whole } = state.again;
      await afterPaint(); // the cards just drawn show first
      state.again = null;
      await loadBoard({ redraw: whole });
    }
  })();
  return state.loading;
}

/** Resolves once the browser has drawn the next frame. */
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
}

/** What of a card the board shows, to tell whether a fresh copy needs drawing. */
function shown(card) {
  return `${card.status} ${card.updated_at} ${card.attempts} ${card.blocked_by.join(",")} ${card.archived_at}`;
}

/** Bring the page in line with a fresh list, drawing only what changed. */
function reconcile(cards) {
  const listed = new Set();
  for (const card of cards) {
    listed.add(card.id);
    const known = state.cards.get(card.id);
    if (!known || shown(known) !== shown(card)) updateCard(card);
  }
  for (const id of [...state.cards.keys()]) {
    if (listed.has(id)) continue;
    state.cards.delete(id);
    state.nodes.get(id)?.remove();
    state.nodes.delete(id);
  }
  counts();
}

/** Fetch one card again shortly: the events of a burst (claim, log, finish) make one fetch. */
function refetchSoon(id) {
  if (state.pending.has(id)) return;
  state.pending.set(
    id,
    setTimeout(async () => {
      state.pending.delete(id);
      try {
        updateCard(await api("GET", `/api/cards/${id}`));
      } catch (err) {
        if (err.status !== 404) showError(err.message);
      }
    }, 25),
  );
}

function onEvent(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  if (typeof event.card_id !== "number") return;
  state.seenEvent = true;
  // While the list loads, its snapshot may be older than this event: fetch after it.
  if (!state.loaded || state.loading) state.missed.add(event.card_id);
  else refetchSoon(event.card_id);
}

function connection(kind, text) {
  const node = $("conn");
  node.dataset.state = kind;
  $("conn-text").textContent = text;
}

function follow() {
  const stream = new EventSource("/api/events");
  state.stream = stream;
  state.seenEvent = false; // a new stream has no event id to resume from
  stream.addEventListener("open", () => {
    state.retryDelay = 1000;
    connection("live", "live");
    if (state.stale) {
      state.stale = false;
      loadBoard();
    }
  });
  stream.addEventListener("message", onEvent);
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CONNECTING) {
      // The browser reconnects by itself and resumes after the last event id it saw; a
      // stream that has not seen one yet cannot say where it was: check the list then.
      if (!state.seenEvent) state.stale = true;
      connection("reconnecting", "reconnecting…");
      return;
    }
    // Refused (not an event stream, or not authorised): a new stream cannot resume where
    // this one was, so the list is loaded again once it opens.
    stream.close();
    connection("offline", "offline: retrying");
    state.stale = true;
    setTimeout(follow, state.retryDelay);
    state.retryDelay = Math.min(state.retryDelay * 2, 30000);
  });
}

// -- the add form -------------------------------------------------------------------------

function addForm() {
  const dialog = $("add");
  const form = $("add-form");
  const error = $("add-error");
  $("add-open").addEventListener("click", () => {
    error.hidden = true;
    dialog.showModal();
    $("add-title-input").focus();
  });
  $("add-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const title = $("add-title-input").value.trim();
    const body = $("add-body").value;
    const profile = $("add-profile").value.trim();
    const goal = $("add-goal").checked;
    const button = $("add-submit");
    button.disabled = true;
    error.hidden = true;
    try {
      let card;
      if (goal) {
        const args = { objective: body.trim() ? `${title}\n\n${body}` : title };
        if (profile) args.profile = profile;
        card = (await api("POST", "/api/goals", args)).goal;
      } else {
        const args = { title, body };
        if (profile) args.profile = profile;
        card = await api("POST", "/api/cards", args);
      }
      updateCard(card);
      form.reset();
      dialog.close();
      flash(card.id);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

function flash(id) {
  const node = state.nodes.get(id);
  if (!node) return;
  node.scrollIntoView({ block: "nearest", inline: "nearest" });
  node.classList.add("fresh");
  setTimeout(() => node.classList.remove("fresh"), 2000);
}

// -- the rest of the page -----------------------------------------------------------------

function filters() {
  $("filter").addEventListener("input", (e) => {
    state.filter = e.target.value.trim().toLowerCase();
    for (const [id, node] of state.nodes) node.hidden = !visible(state.cards.get(id));
  });
  $("show-all").addEventListener("change", (e) => {
    state.showAll = e.target.checked;
    loadBoard({ redraw: true });
  });
}

function openers() {
  const board = $("board");
  const open = (target) => {
    if (target.closest("a")) return; // a "blocked by" link opens that card itself
    const card = target.closest(".card");
    if (card) location.hash = `card-${card.dataset.id}`;
  };
  board.addEventListener("click", (e) => open(e.target));
  board.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target.classList.contains("card")) {
      e.preventDefault();
      open(e.target);
    }
  });
  const route = () => {
    const match = /^#card-(\d+)$/.exec(location.hash);
    if (!match) {
      detail.close();
      return;
    }
    const id = Number(match[1]);
    detail.open(id); // closes the card open before, which unselects it
    unselect();
    state.selected = id;
    state.nodes.get(id)?.classList.add("selected");
  };
  window.addEventListener("hashchange", route);
  route();
  $("banner-close").addEventListener("click", hideError);
}

function unselect() {
  state.selected = null;
  for (const node of document.querySelectorAll(".card.selected")) node.classList.remove("selected");
}

function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll(".card .age")) node.textContent = age(node.dataset.at, now);
}

buildColumns();
addForm();
filters();
openers();
follow();
loadBoard(); // at once, beside the stream; checked again once the stream is open
setInterval(tick, 30000);
