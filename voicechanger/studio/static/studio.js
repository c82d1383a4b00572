// voice studio: the page of one recording. Plain JS, no build step: it fetches the state from the
// server (/api/state), draws one row per phrase, plays WAV slices, and posts edits (/api/redub).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const player = $("#player");
let state = null;          // the last /api/state
let version = -1;          // the run whose rows are drawn
let current = 0;           // the selected row
let busy = false;          // a re-dub or undo in flight
const voicesChosen = {};   // speaker -> voice picked on the page, not yet re-dubbed
const DRAFTS = "voice-studio-drafts:";

function fmt(t) {
  const m = Math.floor(t / 60), s = t - 60 * m;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

function draftKey() { return DRAFTS + (state ? state.input + "→" + state.output : ""); }
function drafts() { try { return JSON.parse(localStorage.getItem(draftKey()) || "{}"); } catch (e) { return {}; } }
function saveDraft(id, text) {
  const all = drafts();
  if (text === null) delete all[id]; else all[id] = text;
  localStorage.setItem(draftKey(), JSON.stringify(all));
}

async function getState() {
  const response = await fetch("/api/state", { cache: "no-store" });
  return response.json();
}

function showStatus(s) {
  const running = ["starting", "converting", "redubbing"].includes(s.status);
  $("#state").textContent = running ? `${s.status}…` : (s.status === "ready" ? `ready (last run ${s.seconds} s)` : s.status);
  $("#state").dataset.status = s.status;
  $("#progress").replaceChildren(...Object.entries(running ? s.progress.stages : {}).map(([name, [done, total]]) => {
    const span = document.createElement("span");
    span.className = "stage";
    span.textContent = `${name} ${done}/${total}`;
    return span;
  }));
  const error = $("#error");
  error.hidden = !s.error;
  error.textContent = s.error ? `error: ${s.error}` : "";
  $("#lines").replaceChildren(...s.lines.map(line => Object.assign(document.createElement("li"), { textContent: line })));
  $("#notices").replaceChildren(...s.notices.map(n => Object.assign(document.createElement("li"),
    { textContent: `${n.severity}: ${n.text}` })));
  $("#names").textContent = `${s.input} → ${s.output}`;
  $("#undo").disabled = busy || !s.undo;
  $("#redub").disabled = busy || s.status !== "ready";
  showCast(s);
}

function showCast(s) {
  const table = $("#cast");
  table.hidden = !s.cast.length;
  const known = [...new Set([...(s.cast.map(c => c.voice)), ...(s.catalogue || [])])];
  $("tbody", table).replaceChildren(...s.cast.map(c => {
    const tr = document.createElement("tr");
    for (const text of [c.speaker, c.gender, `${c.median_f0} Hz`, `${Math.round(c.share * 100)} %`]) {
      tr.appendChild(Object.assign(document.createElement("td"), { textContent: text }));
    }
    const select = document.createElement("select");
    select.dataset.speaker = c.speaker;
    for (const v of known) select.appendChild(Object.assign(document.createElement("option"), { value: v, textContent: v }));
    select.value = voicesChosen[c.speaker] || c.voice;
    select.addEventListener("change", () => { voicesChosen[c.speaker] = select.value; });
    const td = document.createElement("td");
    td.appendChild(select);
    tr.appendChild(td);
    return tr;
  }));
}

function textNode(row) {
  const div = document.createElement("div");
  div.className = "text";
  div.contentEditable = "plaintext-only";
  div.spellcheck = false;
  row.words.forEach((w, i) => {
    if (i) div.appendChild(document.createTextNode(" "));
    if (w.unsure) div.appendChild(Object.assign(document.createElement("mark"),
      { className: "unsure", textContent: w.text, title: "the recogniser was unsure of this word" }));
    else div.appendChild(document.createTextNode(w.text));
  });
  return div;
}

function typed(el) { return el.textContent.replace(/\s+/g, " ").trim(); }

function drawRows(s) {
  const saved = drafts();
  const rows = s.rows.map(row => {
    const el = document.createElement("div");
    el.className = "row";
    el.dataset.index = row.index;
    el.dataset.id = row.id;
    el.innerHTML = `<div class="time"></div><div class="who"><div class="speaker"></div><div class="voice"></div></div>
      <div><div class="slot"></div><div class="play">
      <button class="original" title="Play the original phrase (o)">▶ original</button>
      <button class="new" title="Play the new voice of this phrase (n)">▶ new voice</button>
      <button class="from" title="Play the output from here (Space)">▶▶ from here</button></div></div>
      <canvas width="500" height="168" title="sound wave of the original (blue), of the new voice (orange), then the pitch of both"></canvas>`;
    $(".time", el).textContent = `${fmt(row.start)}–${fmt(row.end)}`;
    $(".speaker", el).textContent = row.speaker || "";
    $(".voice", el).textContent = row.voice;
    const text = textNode(row);
    $(".slot", el).replaceWith(text);
    if (saved[row.id] !== undefined && saved[row.id] !== row.text) { text.textContent = saved[row.id]; el.classList.add("dirty"); }
    text.addEventListener("input", () => {
      const changed = typed(text) !== row.text;
      el.classList.toggle("dirty", changed);
      saveDraft(row.id, changed ? typed(text) : null);
    });
    text.addEventListener("focus", () => select(row.index, false));
    $("button.original", el).addEventListener("click", () => { select(row.index, false); play("original", row.index); });
    $("button.new", el).addEventListener("click", () => { select(row.index, false); play("new", row.index); });
    $("button.from", el).addEventListener("click", () => { select(row.index, false); playFrom(row.index); });
    el.addEventListener("click", () => select(row.index, false));
    return el;
  });
  $("#rows").replaceChildren(...rows);
  rows.forEach(el => views.observe($("canvas", el)));
  select(Math.min(current, rows.length - 1), false);
}

// The small views: drawn when a row scrolls into sight (a 10-minute recording has ~150 rows).
const views = new IntersectionObserver(entries => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    views.unobserve(entry.target);
    const index = entry.target.closest(".row").dataset.index;
    fetch(`/api/view/${index}?v=${version}`, { cache: "no-store" }).then(r => r.json()).then(v => drawView(entry.target, v));
  }
});

function drawView(canvas, v) {
  // Three strips: the original's waveform, the new voice's (one amplitude scale for both), then both
  // pitches as dots on one log-Hz scale.
  const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, strip = H * 0.27;
  g.clearRect(0, 0, W, H);
  const amp = Math.max(1e-3, ...[v.original, v.new].flatMap(x => x.peaks.flat().map(Math.abs)));
  const colours = { original: "#2a6fdb", new: "#e8730c" };
  ["original", "new"].forEach((which, k) => {
    const peaks = v[which].peaks, middle = strip * (k + 0.5);
    g.fillStyle = colours[which];
    peaks.forEach(([lo, hi], i) => {
      const x = i * W / peaks.length, y0 = middle - hi / amp * strip / 2, y1 = middle - lo / amp * strip / 2;
      g.fillRect(x, y0, Math.max(1, W / peaks.length - 0.5), Math.max(1, y1 - y0));
    });
  });
  g.fillStyle = "#eee";
  g.fillRect(0, 2 * strip, W, 1);
  canvas.dataset.drawn = "1";
  const all = [v.original, v.new].flatMap(x => x.pitch.filter(f => f > 0));
  if (!all.length) return;
  const lo = Math.log(Math.min(...all) * 0.9), hi = Math.log(Math.max(...all) * 1.1), room = H - 2 * strip - 8;
  for (const which of ["original", "new"]) {
    g.fillStyle = colours[which];
    v[which].pitch.forEach((f, i) => {
      if (f <= 0) return;
      const x = i * v.step / (v.end - v.start) * W, y = H - 4 - (Math.log(f) - lo) / (hi - lo || 1) * room;
      g.fillRect(x, y, 3, 3);
    });
  }
}

function select(index, scroll = true) {
  if (!state || !state.rows.length) return;
  current = Math.max(0, Math.min(index, state.rows.length - 1));
  document.querySelectorAll(".row.current").forEach(el => el.classList.remove("current"));
  const el = document.querySelector(`.row[data-index="${current}"]`);
  if (el) { el.classList.add("current"); if (scroll) el.scrollIntoView({ block: "nearest" }); }
}

function play(which, index) {
  player.src = `/audio/${which}/${index}.wav?v=${version}`;
  player.dataset.playing = `${which}:${index}`;
  player.play().catch(() => {});
}

function playFrom(index) {
  const start = state.rows[index].start;
  player.src = `/output?v=${version}`;
  player.dataset.playing = `from:${index}`;
  player.addEventListener("loadedmetadata", () => { player.currentTime = start; player.play().catch(() => {}); }, { once: true });
  player.load();
}

function edits() {
  return [...document.querySelectorAll(".row.dirty")].map(el => ({ id: el.dataset.id, text: typed($(".text", el)) }));
}

async function post(path, body) {
  busy = true;
  showStatus({ ...state, status: "redubbing", error: "" });
  $("#state").dataset.status = "redubbing";
  try {
    const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    const s = await response.json();
    busy = false;
    apply(s);
    return s.ok;
  } finally { busy = false; }
}

async function redub() {
  const sent = edits();
  const voices = { ...voicesChosen };
  if (!sent.length && !Object.keys(voices).length) { $("#error").hidden = false; $("#error").textContent = "nothing edited: change a word, a stress mark or a voice first"; return; }
  const ok = await post("/api/redub", { edits: sent, voices });
  if (ok) {
    sent.forEach(e => saveDraft(e.id, null));
    Object.keys(voices).forEach(k => delete voicesChosen[k]);
    drawRows(state);
    sent.forEach(e => { const el = document.querySelector(`.row[data-id="${e.id}"]`); if (el) el.classList.add("said"); });
  }
}

async function undo() { if (!busy) await post("/api/undo"); }

function apply(s) {
  const newRun = s.version !== version;
  state = s;
  showStatus(s);
  if (newRun && s.status === "ready" || newRun && s.rows.length) { version = s.version; drawRows(s); }
  document.body.dataset.version = String(version);
  document.body.dataset.status = s.status;
}

async function poll() {
  try { if (!busy) apply(await getState()); } catch (e) { /* the server is gone: keep the page as it is */ }
  const running = state && ["starting", "converting", "redubbing"].includes(state.status);
  setTimeout(poll, running || busy ? 500 : 3000);
}

document.addEventListener("keydown", event => {
  const editing = document.activeElement && document.activeElement.classList.contains("text");
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); redub(); return; }
  if (event.altKey && (event.key === "z" || event.key === "Z" || event.code === "KeyZ")) { event.preventDefault(); undo(); return; }
  if (editing) {
    if (event.key === "Escape") document.activeElement.blur();
    return;
  }
  const keys = {
    ArrowDown: () => select(current + 1), j: () => select(current + 1),
    ArrowUp: () => select(current - 1), k: () => select(current - 1),
    o: () => play("original", current), n: () => play("new", current),
    " ": () => (player.paused ? playFrom(current) : player.pause()),
    e: () => focusText(), Enter: () => focusText(),
    "?": () => { $("#help").hidden = !$("#help").hidden; },
  };
  if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
});

function focusText() {
  const el = document.querySelector(`.row[data-index="${current}"] .text`);
  if (el) el.focus();
}

$("#redub").addEventListener("click", redub);
$("#undo").addEventListener("click", undo);
$("#help-button").addEventListener("click", () => { $("#help").hidden = !$("#help").hidden; });
poll();
