// app.js - the eventflow web console. Reads this node's HTTP API
// (docs/http.md): /status and /cluster for the members, /streams and
// /streams/{s} for the data, and /all/subscribe (server-sent events) for a
// live tail of the global log. No framework: a few DOM helpers, and every
// value goes in as text (textContent), never as markup.
'use strict';

const REFRESH_MS = 2000;   // how often the cluster and the streams are re-read
const STREAMS_LIMIT = 100; // streams listed (LISTSTREAMS' limit)
const EVENTS_LIMIT = 100;  // events shown of a clicked stream
const TAIL_MAX = 200;      // rows the live tail keeps
const TOKEN_KEY = 'eventflow.password';

const $ = (id) => document.getElementById(id);
let password = sessionStorage.getItem(TOKEN_KEY);
let selected = null;       // the stream whose events are shown
let tail = null;           // the EventSource
let tailLast = null;       // id of the last event the tail showed: where a restart resumes
let refreshTimer = null;

// An element with text or child elements; attrs are properties (className, title...).
function el(tag, attrs, ...children) {
  const e = Object.assign(document.createElement(tag), attrs || {});
  for (const c of children)
    e.append(c instanceof Node ? c : String(c ?? ''));
  return e;
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = message === null;
}

class AuthNeeded extends Error {}

// GET path as JSON with the password if one was given. Errors carry the
// API's own code and message ({"error":{"code","message"}}).
async function api(path) {
  const headers = password ? { Authorization: 'Bearer ' + password } : {};
  const res = await fetch(path, { headers, cache: 'no-store' });
  if (res.status === 401) {
    askPassword(password ? 'wrong password' : null);
    throw new AuthNeeded('password needed');
  }
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new Error(`${path}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) {
    const err = body.error || {};
    throw new Error(`${path}: ${res.status} ${err.code || ''}: ${err.message || ''}`);
  }
  return body;
}

function askPassword(why) {
  stopTail();
  const form = $('login');
  form.hidden = false;
  showError(why ? `401: ${why}` : '401: this node needs its password');
  $('password').focus();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  password = $('password').value;
  sessionStorage.setItem(TOKEN_KEY, password);
  $('login').hidden = true;
  showError(null);
  refresh();
});

// A cell with an RFC 3339 time to the second; the full time (to the
// nanosecond, as stored) in its tooltip.
function timeCell(t) {
  const short = typeof t === 'string' ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : t;
  return el('td', { title: t ?? '' }, short);
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// ---- the cluster ----------------------------------------------------

// A member's HTTP address (STATUS's http_address, absent while it has no
// HTTP listener) as a link to its own console, in this page's scheme: the
// members of a cluster share their TLS settings, so all serve HTTPS or none.
function consoleLink(address) {
  if (typeof address !== 'string' || address === '')
    return el('td', { className: 'note' }, 'none');
  return el('td', { className: 'mono' }, el('a', { href: `${location.protocol}//${address}/` }, address));
}

function renderCluster(self, members) {
  $('node').textContent = `node ${self.id} · ${self.state} · term ${self.term} · v${self.version}`;
  const leader = members.find((m) => m.state === 'leader');
  const commit = leader ? leader.commit_index : Math.max(...members.map((m) => m.commit_index || 0));
  fill($('cluster').tBodies[0], members.map((m) => {
    if (m.error !== undefined) {
      return el('tr', { className: 'member unreachable' },
        el('td', {}, m.id), el('td', {}, m.role), el('td', { className: 'state' }, 'unreachable'),
        el('td', { className: 'mono' }, m.client_address),
        el('td', { colSpan: 8, title: m.error }, m.error));
    }
    const lag = commit - m.applied_index;
    return el('tr', { className: 'member' },
      el('td', {}, m.id),
      el('td', {}, m.role),
      el('td', { className: 'state role-' + m.state }, m.state + (m.stale ? ' (stale)' : '')),
      el('td', { className: 'mono' }, m.client_address),
      consoleLink(m.http_address),
      el('td', {}, m.term),
      el('td', {}, m.commit_index),
      el('td', {}, m.applied_index),
      el('td', { className: lag > 0 ? 'bad' : '' }, lag),
      el('td', {}, m.events),
      el('td', {}, m.streams),
      el('td', { className: 'mono checksum' }, m.checksum));
  }));
  // Members at the same applied index must hold the same checksum.
  const byIndex = new Map();
  for (const m of members.filter((x) => x.error === undefined)) {
    const seen = byIndex.get(m.applied_index);
    if (seen !== undefined && seen !== m.checksum) {
      $('cluster-note').textContent = `checksums differ at applied index ${m.applied_index}: the stores have diverged`;
      $('cluster-note').className = 'note bad';
      return;
    }
    byIndex.set(m.applied_index, m.checksum);
  }
  $('cluster-note').textContent = 'lag: entries the leader has committed that the member has not applied yet';
  $('cluster-note').className = 'note';
}

// ---- streams and their events -----------------------------------------

function renderStreams(list) {
  $('streams-count').textContent = list.length >= STREAMS_LIMIT ? `(first ${STREAMS_LIMIT})` : `(${list.length})`;
  fill($('streams').tBodies[0], list.map((s) => {
    const row = el('tr', { className: s.id === selected ? 'stream selected' : 'stream' },
      el('td', { className: 'mono' }, s.id), el('td', {}, s.events), timeCell(s.added_at));
    row.addEventListener('click', () => showStream(s.id));
    return row;
  }));
}

async function showStream(name) {
  selected = name;
  for (const row of $('streams').tBodies[0].rows)
    row.classList.toggle('selected', row.cells[0].textContent === name);
  $('events-section').hidden = false;
  $('events-stream').textContent = name;
  try {
    const body = await api(`/streams/${encodeURIComponent(name)}?version=0&limit=${EVENTS_LIMIT}`);
    const events = body.result || [];
    fill($('events').tBodies[0], events.map((e) => el('tr', { className: 'event' },
      el('td', {}, e.version), el('td', {}, e.type), el('td', { className: 'mono' }, e.id),
      timeCell(e.added_at), el('td', { className: 'data' }, JSON.stringify(e.data)))));
    $('events-note').textContent = events.length >= EVENTS_LIMIT ? `the first ${EVENTS_LIMIT} events` : '';
  } catch (e) {
    if (!(e instanceof AuthNeeded))
      $('events-note').textContent = e.message;
  }
}

// ---- the live tail -----------------------------------------------------

function tailState(text) {
  $('tail-state').textContent = text;
}

// EventSource cannot send headers: the password goes as access_token in
// the query, which the subscribe routes accept (docs/http.md).
function startTail() {
  if (tail !== null)
    return;
  const q = new URLSearchParams();
  if (tailLast !== null)
    q.set('offset', tailLast);   // resume after the last event shown
  if (password)
    q.set('access_token', password);
  const qs = q.toString();
  tail = new EventSource('/all/subscribe' + (qs ? '?' + qs : ''));
  tailState('connecting…');
  tail.onopen = () => tailState(tailLast === null ? 'live: events applied since the page opened' : 'live');
  tail.onmessage = (msg) => {
    let e;
    try {
      e = JSON.parse(msg.data);
    } catch (err) {
      tailState('an event that is not JSON: ' + msg.data.slice(0, 80));
      return;
    }
    tailLast = e.id;
    const body = $('tail').tBodies[0];
    body.prepend(el('tr', { className: 'tail-event new' },
      el('td', { className: 'mono' }, e.id), el('td', { className: 'mono' }, e.stream), el('td', {}, e.version),
      el('td', {}, e.type), el('td', { className: 'data' }, JSON.stringify(e.data))));
    while (body.rows.length > TAIL_MAX)
      body.deleteRow(-1);
  };
  // EventSource reconnects by itself (sending Last-Event-ID) unless the
  // answer was an error status: then it closes, and we say so.
  tail.onerror = () => {
    if (tail.readyState === EventSource.CLOSED) {
      tail = null;
      tailState('disconnected (refused or not available): retrying with the next refresh');
    } else {
      tailState('reconnecting…');
    }
  };
}

function stopTail() {
  if (tail !== null)
    tail.close();
  tail = null;
}

// ---- refresh -----------------------------------------------------------

// Each part is read and shown on its own: in a degraded cluster, when the
// console matters most, a refused read (a stale follower's /streams, say)
// is reported without hiding what the other parts can still show.
async function refresh() {
  clearTimeout(refreshTimer);
  const [self, members, streams] = await Promise.allSettled(
    [api('/status'), api('/cluster'), api('/streams?limit=' + STREAMS_LIMIT)]);
  const failed = [self, members, streams].filter((r) => r.status === 'rejected').map((r) => r.reason);
  if (failed.some((e) => e instanceof AuthNeeded))
    return; // waits for the password form
  if (self.status === 'fulfilled' && members.status === 'fulfilled')
    renderCluster(self.value, members.value);
  if (streams.status === 'fulfilled') {
    renderStreams(streams.value.result || []);
    if (selected !== null)
      showStream(selected);
  }
  showError(failed.length === 0 ? null : failed.map((e) =>
    e instanceof TypeError ? 'this node does not answer: ' + e.message : e.message).join('\n'));
  if (failed.length < 3) {
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    startTail();
  }
  refreshTimer = setTimeout(refresh, REFRESH_MS);
}

refresh();
