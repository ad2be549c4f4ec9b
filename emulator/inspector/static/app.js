// The inspector's page: plain DOM, fed by the server's event stream
// (/api/stream), controls posted as JSON. No build step, no dependency.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
let source = null;
let selected = new URLSearchParams(location.hash.slice(1)).get('session') || '';
let lastSession = null;
let lastOverview = null;
let formDirty = false;
let stateAt = null; // the number the "state at" view shows; null follows the latest

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}
const badge = (text, cls = '') => el('span', { class: `badge ${cls}`, text });
const json = (v) => JSON.stringify(v, null, 1);
const ms = (n) => (n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);
const clock = (t) => (t && !t.startsWith('0001') ? new Date(t).toISOString().slice(11, 23) : '—');

function connect() {
  if (source) source.close();
  source = new EventSource('api/stream' + (selected ? `?session=${encodeURIComponent(selected)}` : ''));
  source.addEventListener('open', () => { $('#conn').textContent = 'live'; $('#conn').className = 'conn live'; });
  source.addEventListener('error', () => { $('#conn').textContent = 'reconnecting…'; $('#conn').className = 'conn down'; });
  source.addEventListener('overview', (e) => renderOverview(JSON.parse(e.data)));
  source.addEventListener('session', (e) => renderSession(JSON.parse(e.data)));
  source.addEventListener('problem', (e) => { $('#conn').textContent = JSON.parse(e.data).error; $('#conn').className = 'conn down'; });
}

function renderOverview(o) {
  lastOverview = o;
  $('#project').textContent = o.projectId || '';
  $('#faults-text').textContent = o.faultsText;
  const d = o.deliveries;
  $('#deliveries').replaceChildren(...[
    ['received', d.received], ['duplicated', d.duplicated], ['attempts', d.attempts], ['succeeded', d.succeeded],
    ['failed', d.failed], ['dropped', d.dropped], ['in flight', d.inFlight], ['pending', d.pending], ['host restarts', d.hostRestarts],
  ].map(([k, v]) => el('span', { class: 'c', 'data-counter': k, text: `${k} ${v}` })));
  const pub = o.published || {};
  $('#published').replaceChildren(...(Object.keys(pub).length
    ? Object.entries(pub).map(([t, n]) => el('span', { class: 'c', 'data-topic': t, text: `${t} ${n}` }))
    : [el('span', { class: 'hint', text: 'not counted' })]));
  if (!formDirty) {
    for (const [k, v] of Object.entries(o.faults)) { const i = $(`#faults [name=${k}]`); if (i) i.value = v; }
  }
  $('#fanout').checked = o.fanOut;
  const sched = $('#schedules');
  if (sched.children.length <= 1) {
    for (const name of o.schedules) {
      sched.append(el('button', { type: 'button', 'data-schedule': name, text: name }), ' ');
    }
  }
  renderCalls(o.calls);
}

function renderCalls(calls) {
  const list = calls.map((c) => el('div', { class: 'call' },
    el('div', { class: 'cid', text: `call ${c.id}` + (c.missing ? ' (no call document)' : ` · ${c.members.length} members`) }),
    ...c.sessions.map((s) => {
      const a = el('a', { class: 'sess' + (s.id === selected ? ' selected' : ''), href: `#session=${s.id}`, 'data-session': s.id },
        s.id, badge(s.status, s.status), badge(`#${s.lastEventSequenceNumber}`), badge(s.experienceId));
      return a;
    })));
  $('#call-list').replaceChildren(...(list.length ? list : [el('span', { class: 'hint', text: 'no calls yet' })]));
}

function renderSession(v) {
  const root = $('#session');
  if (!root.querySelector('.sid') || root.dataset.session !== v.session.id) {
    root.replaceChildren($('#session-template').content.cloneNode(true));
    root.dataset.session = v.session.id;
    stateAt = null;
    wireStateAt();
  }
  lastSession = v;
  const s = v.session;
  $('.sid', root).textContent = s.id;
  $('.facts', root).replaceChildren(...[
    ['status', s.status + (s.endReason ? ` (${s.endReason})` : '')], ['owner', s.ownerId],
    ['lastEventSequenceNumber', String(s.lastEventSequenceNumber)], ['experience', s.experienceId],
    ['call', s.callId], ['last activity', clock(s.lastActivityAt)],
  ].flatMap(([k, val]) => [el('dt', { text: k }), el('dd', { 'data-fact': k, text: val })]));
  $('.grace', root).textContent = `(removed once the heartbeat is older than ${ms(v.graceMs)})`;
  renderParticipants();

  const row = (e, cells, cls = '') => el('tr', { class: cls + (e.system ? ' system' : ''), 'data-doc': e.docId, ...(e.sequenceNumber ? { 'data-seq': String(e.sequenceNumber) } : {}) }, ...cells);
  const td = (text, cls = '') => el('td', { class: cls, text });
  const typeCell = (e) => el('td', {}, e.type, e.system ? badge('system', 'system') : null);
  $('#events tbody').replaceChildren(...v.stream.accepted.map((e) => row(e, [
    td(String(e.sequenceNumber), 'mono seq'), typeCell(e), td(e.senderId, 'mono'), td(json(e.data), 'data'),
    td(`${clock(e.createdAt)} → ${clock(e.sequencedAt)}` + (e.delayMs != null ? ` (${ms(e.delayMs)})` : ''), 'mono delay'),
  ])));
  $('#pending tbody').replaceChildren(...v.stream.pending.map((e) => row(e, [
    td(e.docId, 'mono'), typeCell(e), td(e.senderId, 'mono'), td(json(e.data), 'data'), td(clock(e.createdAt), 'mono'),
  ])));
  $('#rejected tbody').replaceChildren(...v.stream.rejected.map((e) => row(e, [
    td(e.docId, 'mono'), typeCell(e), td(e.senderId, 'mono'), td(json(e.data), 'data'), td(e.rejectReason, 'reason'),
  ])));

  $('.snap-at', root).textContent = v.snapshot ? `at #${v.snapshot.at}` : '(none yet)';
  $('#snapshot-state').textContent = v.snapshot ? json(stateOf(v.snapshot)) : 'no snapshot before the first compaction';
  $('.cur-at', root).textContent = v.current ? `at #${v.current.at} (from ${v.current.from})` : '';
  $('#current-state').textContent = v.current ? json(stateOf(v.current)) : v.currentError;

  const last = v.current ? v.current.at : s.lastEventSequenceNumber;
  const slider = $('#state-at');
  slider.min = String(v.earliest);
  slider.max = String(last);
  $('#state-at-number').min = String(v.earliest);
  $('#state-at-number').max = String(last);
  if (stateAt === null) showStateAt(last, false);
  else highlight();
}

function stateOf(view) {
  return { participants: view.participants, ownerId: view.ownerId, ended: view.ended, state: view.state };
}

function renderParticipants() {
  const v = lastSession;
  if (!v || !$('#participants')) return;
  const now = Date.now();
  $('#participants tbody').replaceChildren(...v.participants.map((p, i) => {
    const seen = p.lastSeenAt ? now - Date.parse(p.lastSeenAt) : null;
    const due = p.lastSeenAt ? Date.parse(p.dueAt) - now : null;
    return el('tr', { 'data-uid': p.uid },
      el('td', { class: 'mono' }, p.uid, p.owner ? badge('owner', 'owner') : null, i === 0 ? badge('removed next', 'next') : null),
      el('td', { class: 'age', text: seen == null ? 'never' : `${ms(Math.max(0, seen))} ago` }),
      el('td', { text: due == null || due <= 0 ? 'at the next presence check' : `in ${ms(due)}` }));
  }));
}

function wireStateAt() {
  const slider = $('#state-at');
  const number = $('#state-at-number');
  slider.addEventListener('input', () => showStateAt(Number(slider.value), true));
  number.addEventListener('change', () => showStateAt(Number(number.value), true));
  $('#step-back').addEventListener('click', () => showStateAt(Number(slider.value) - 1, true));
  $('#step-forward').addEventListener('click', () => showStateAt(Number(slider.value) + 1, true));
}

let stateRequest = 0;
async function showStateAt(n, pinned) {
  const slider = $('#state-at');
  n = Math.max(Number(slider.min), Math.min(Number(slider.max), n));
  if (pinned) stateAt = n;
  slider.value = String(n);
  $('#state-at-number').value = String(n);
  highlight();
  const mine = ++stateRequest;
  const res = await fetch(`api/sessions/${encodeURIComponent(selected)}/state?at=${n}`);
  const body = await res.json();
  if (mine !== stateRequest) return;
  const view = $('#state-at-view');
  view.dataset.at = String(n);
  view.textContent = res.ok ? json(stateOf(body)) : body.error;
}

function highlight() {
  const n = $('#state-at').value;
  for (const tr of document.querySelectorAll('#events tr[data-seq]')) tr.classList.toggle('at', tr.dataset.seq === n);
}

async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const out = await res.json();
  $('#control-result').textContent = res.ok ? `done: ${JSON.stringify(out).slice(0, 200)}` : `refused: ${out.error}`;
  return { ok: res.ok, out };
}

$('#faults').addEventListener('input', () => { formDirty = true; });
$('#faults').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = {};
  for (const input of $('#faults').querySelectorAll('input')) body[input.name] = Number(input.value);
  const { ok, out } = await post('api/faults', body);
  if (ok) { formDirty = false; $('#faults-text').textContent = out.faultsText; }
});
$('#fanout').addEventListener('change', (e) => post('api/fanout', { on: e.target.checked }));
$('#schedules').addEventListener('click', (e) => {
  const name = e.target.dataset?.schedule;
  if (name) post(`api/schedules/${name}`, {});
});
window.addEventListener('hashchange', () => {
  selected = new URLSearchParams(location.hash.slice(1)).get('session') || '';
  if (lastOverview) renderCalls(lastOverview.calls);
  connect();
});
setInterval(renderParticipants, 1000);
connect();
