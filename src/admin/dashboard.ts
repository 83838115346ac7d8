/**
 * The dashboard (GET /): one self-contained HTML page, no external assets. It polls /health,
 * /api/v1/monitoring/usage, /api/v1/inventory, /api/v1/audit and /metrics and renders listeners, quota bars,
 * masked values by label, denials and recent audit records. When /api answers 401 it asks for the admin token
 * and keeps it in sessionStorage (gone when the tab closes). Every value from the server is inserted as text,
 * never as HTML, so object names or statements in audit records cannot inject markup.
 */
import { randomBytes } from 'node:crypto';

const STYLE = `
:root { --bg:#0f1419; --panel:#182028; --line:#26313c; --text:#dde3ea; --muted:#8b98a5; --ok:#3fb950; --warn:#d29922;
  --bad:#f85149; --accent:#58a6ff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { font-size: 18px; margin: 0; letter-spacing: .5px; }
header .sub { color: var(--muted); font-size: 12px; }
header .spacer { flex: 1; }
button { background: var(--line); color: var(--text); border: 1px solid #34414d; border-radius: 6px; padding: 5px 10px; cursor: pointer; font: inherit; }
button:hover { border-color: var(--accent); }
main { padding: 16px 24px 40px; display: grid; grid-template-columns: repeat(12, 1fr); gap: 16px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; overflow-x: auto; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .8px; color: var(--muted); margin: 0 0 10px; font-weight: 600; }
.w12 { grid-column: span 12; } .w8 { grid-column: span 8; } .w6 { grid-column: span 6; } .w4 { grid-column: span 4; }
@media (max-width: 1000px) { .w8, .w6, .w4 { grid-column: span 12; } }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .v { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 12px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 500; border-bottom: 1px solid var(--line); padding: 5px 6px; }
td { border-bottom: 1px solid #1f2933; padding: 5px 6px; vertical-align: top; overflow-wrap: break-word; }
.nowrap { white-space: nowrap; } .wrap { overflow-wrap: break-word; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.b-ok { background: rgba(63,185,80,.15); color: var(--ok); } .b-warn { background: rgba(210,153,34,.15); color: var(--warn); }
.b-bad { background: rgba(248,81,73,.15); color: var(--bad); } .b-muted { background: var(--line); color: var(--muted); }
.quota { margin-bottom: 14px; } .quota h3 { font-size: 14px; margin: 0 0 6px; display: flex; gap: 8px; align-items: center; }
.bar-row { display: grid; grid-template-columns: 110px 1fr 240px; gap: 10px; align-items: center; margin: 4px 0; font-size: 13px; }
.bar { height: 10px; background: var(--bg); border: 1px solid var(--line); border-radius: 5px; overflow: hidden; }
.bar > div { height: 100%; border-radius: 5px; transition: width .4s; }
.f-healthy { background: var(--ok); } .f-warning { background: var(--warn); } .f-exceeded { background: var(--bad); }
.muted { color: var(--muted); } .empty { color: var(--muted); font-style: italic; padding: 6px 0; }
.hbar { display: grid; grid-template-columns: 160px 1fr 70px; gap: 8px; align-items: center; font-size: 13px; margin: 3px 0; }
.hbar .bar > div { background: var(--accent); } #denials .hbar .bar > div { background: var(--bad); }
#err { display: none; background: rgba(248,81,73,.12); color: var(--bad); border: 1px solid rgba(248,81,73,.4); padding: 8px 12px; border-radius: 6px; grid-column: span 12; }
#auth { position: fixed; inset: 0; background: rgba(0,0,0,.6); display: none; align-items: center; justify-content: center; }
#auth form { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 22px; width: 380px; }
#auth h2 { margin: 0 0 6px; font-size: 16px; } #auth p { color: var(--muted); margin: 0 0 14px; font-size: 13px; }
#auth input { width: 100%; padding: 8px; border-radius: 6px; border: 1px solid var(--line); background: var(--bg); color: var(--text); font: inherit; margin-bottom: 12px; }
#auth .msg { color: var(--bad); min-height: 18px; font-size: 13px; }
`;

const SCRIPT = `
'use strict';
var TOKEN_KEY = 'dgf.adminToken';
var REFRESH_MS = 5000;
var timer = null;

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function fmtNum(n) { return Number(n).toLocaleString('en-US', { maximumFractionDigits: 2 }); }
function fmtBytes(b) {
  var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0; b = Number(b);
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (Math.round(b * 10) / 10) + ' ' + u[i];
}
function fmtUsage(r) {
  if (r.unit === 'bytes') return fmtBytes(r.used) + ' / ' + fmtBytes(r.limit);
  if (r.unit === 'RU/s') return fmtNum(r.used) + ' / ' + fmtNum(r.limit) + ' RU/s';
  if (r.unit === 'per_month') return fmtNum(r.used) + ' / ' + fmtNum(r.limit) + ' a month';
  return fmtNum(r.used) + ' / ' + fmtNum(r.limit);
}
function badge(status) {
  var cls = { healthy: 'b-ok', up: 'b-ok', ready: 'b-ok', allow: 'b-ok', warning: 'b-warn', degraded: 'b-warn',
    exceeded: 'b-bad', down: 'b-bad', deny: 'b-bad' }[status] || 'b-muted';
  return el('span', 'badge ' + cls, status);
}
function table(head, rows, numeric) {
  var t = el('table'), thead = el('thead'), tr = el('tr');
  head.forEach(function (h, i) { tr.appendChild(el('th', numeric && numeric.indexOf(i) >= 0 ? 'num' : '', h)); });
  thead.appendChild(tr); t.appendChild(thead);
  var tb = el('tbody');
  rows.forEach(function (r) {
    var row = el('tr');
    r.forEach(function (c, i) {
      var td = el('td', numeric && numeric.indexOf(i) >= 0 ? 'num' : '');
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? '' : String(c);
      row.appendChild(td);
    });
    tb.appendChild(row);
  });
  t.appendChild(tb);
  return t;
}
function empty(text) { return el('div', 'empty', text); }

function token() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }
function AuthNeeded() {}
function api(path) {
  var headers = { accept: 'application/json' };
  var t = token();
  if (t) headers.authorization = 'Bearer ' + t;
  return fetch(path, { headers: headers, cache: 'no-store' }).then(function (res) {
    if (res.status === 401) throw new AuthNeeded();
    if (!res.ok) return res.text().then(function (b) { throw new Error(path + ': HTTP ' + res.status + ' ' + b.slice(0, 200)); });
    var type = res.headers.get('content-type') || '';
    return type.indexOf('json') >= 0 ? res.json() : res.text();
  });
}
function showAuth(rejected) {
  $('auth').style.display = 'flex';
  $('auth-msg').textContent = rejected ? 'That token was not accepted.' : '';
  $('token').value = '';
  $('token').focus();
}

function parseMetrics(text) {
  var out = [];
  text.split('\\n').forEach(function (line) {
    if (!line || line.charAt(0) === '#') return;
    var m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)\\})?\\s+(\\S+)/.exec(line);
    if (!m) return;
    var labels = {}, re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"/g, lm;
    while ((lm = re.exec(m[2] || ''))) labels[lm[1]] = lm[2].replace(/\\\\(.)/g, function (_, c) { return c === 'n' ? '\\n' : c; });
    out.push({ name: m[1], labels: labels, value: Number(m[3]) });
  });
  return out;
}
function sumBy(samples, name, key) {
  var acc = {};
  samples.forEach(function (s) {
    if (s.name !== name) return;
    var k = key ? s.labels[key] || '(none)' : '_';
    acc[k] = (acc[k] || 0) + s.value;
  });
  return acc;
}
function total(obj) { var t = 0; Object.keys(obj).forEach(function (k) { t += obj[k]; }); return t; }

function renderHealth(h) {
  clear($('health')).appendChild(badge(h.status));
  var up = {};
  h.upstreams.forEach(function (u) { up[u.name] = u; });
  var box = clear($('listeners'));
  if (!h.listeners.length) { box.appendChild(empty('No listeners configured (admin only).')); return; }
  box.appendChild(table(['Listener', 'Protocol', 'Address', 'Upstream', 'Detail'], h.listeners.map(function (l) {
    var u = up[l.name] || { status: 'unknown' };
    return [l.name, l.protocol, el('span', 'mono nowrap', l.address), badge(u.status), u.detail || ''];
  })));
}

function renderUsage(u) {
  clear($('quota-status')).appendChild(badge(u.status));
  var box = clear($('quotas'));
  if (!u.listeners.length) { box.appendChild(empty('No listeners.')); return; }
  u.listeners.forEach(function (l) {
    var q = el('div', 'quota'), h = el('h3');
    h.appendChild(el('span', '', l.listener));
    h.appendChild(el('span', 'muted', l.preset ? l.preset : 'no preset'));
    h.appendChild(badge(l.status));
    if (l.on_exceed === 'warn') h.appendChild(el('span', 'badge b-muted', 'onExceed: warn'));
    q.appendChild(h);
    if (!l.resources.length) q.appendChild(empty('No limits.'));
    l.resources.forEach(function (r) {
      var row = el('div', 'bar-row');
      row.appendChild(el('span', '', r.resource.replace('_', ' ')));
      var bar = el('div', 'bar'), fill = el('div', 'f-' + r.status);
      fill.style.width = Math.min(100, Math.max(0, r.usage_percent)) + '%';
      bar.appendChild(fill);
      row.appendChild(bar);
      row.appendChild(el('span', 'mono', fmtUsage(r) + ' (' + fmtNum(r.usage_percent) + '%)'));
      row.title = r.status;
      q.appendChild(row);
    });
    box.appendChild(q);
  });
}

function hbars(box, counts, emptyText) {
  clear(box);
  var keys = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a]; });
  if (!keys.length) { box.appendChild(empty(emptyText)); return; }
  var max = counts[keys[0]] || 1;
  keys.slice(0, 15).forEach(function (k) {
    var row = el('div', 'hbar');
    row.appendChild(el('span', 'mono', k));
    var bar = el('div', 'bar'), fill = el('div');
    fill.style.width = (100 * counts[k] / max) + '%';
    bar.appendChild(fill);
    row.appendChild(bar);
    row.appendChild(el('span', 'num mono', fmtNum(counts[k])));
    box.appendChild(row);
  });
}

function renderMetrics(text) {
  var s = parseMetrics(text);
  var queries = sumBy(s, 'dgf_queries_total', 'outcome');
  var masked = sumBy(s, 'dgf_masked_values_total', 'label');
  var denials = sumBy(s, 'dgf_policy_denials_total', 'rule');
  var clients = sumBy(s, 'dgf_client_connections');
  var queue = sumBy(s, 'dgf_audit_queue_depth');
  $('c-queries').textContent = fmtNum(total(queries));
  $('c-clients').textContent = fmtNum(total(clients));
  $('c-masked').textContent = fmtNum(total(masked));
  $('c-denied').textContent = fmtNum(queries.denied || 0);
  $('c-queue').textContent = fmtNum(total(queue));
  hbars($('masked'), masked, 'Nothing masked yet.');
  hbars($('denials'), denials, 'No denials.');
}

function renderInventory(inv) {
  var rows = [];
  Object.keys(inv.listeners).forEach(function (name) {
    inv.listeners[name].forEach(function (f) {
      var labels = Object.keys(f.labels).map(function (k) { return k + ' \\u00d7' + f.labels[k]; }).join(', ');
      rows.push([name, f.object || '', f.field, labels, f.lastSeen ? f.lastSeen.slice(11, 19) : '']);
    });
  });
  var box = clear($('inventory'));
  if (!rows.length) { box.appendChild(empty('No classified fields seen yet.')); return; }
  box.appendChild(table(['Listener', 'Object', 'Field', 'Labels seen', 'Last seen'], rows.slice(0, 200)));
}

function statement(text) {
  var s = el('span', 'mono wrap muted', text && text.length > 120 ? text.slice(0, 119) + '\u2026' : text || '');
  if (text) s.title = text;
  return s;
}
function errorBadge(text) { var b = el('span', 'badge b-bad', 'error'); b.title = String(text); return b; }
function renderAudit(a) {
  var box = clear($('audit'));
  if (!a.records.length) { box.appendChild(empty('No audit records yet.')); return; }
  var rows = a.records.slice().reverse().map(function (r) {
    var masked = Object.keys(r.masked || {}).map(function (k) { return k + ':' + r.masked[k]; }).join(' ');
    return [el('span', 'mono nowrap', String(r.ts).slice(11, 23)), r.listener, (r.identity && r.identity.user) || '', r.role, r.operation,
      el('span', 'mono wrap', r.object || ''), statement(r.statement), badge(r.decision), (r.labels || []).join(' '), masked,
      r.rows === null || r.rows === undefined ? '' : r.rows, r.error ? errorBadge(r.error) : ''];
  });
  box.appendChild(table(['Time', 'Listener', 'User', 'Role', 'Op', 'Object', 'Statement', 'Decision', 'Labels', 'Masked', 'Rows', ''], rows, [10]));
}

function refresh() {
  if (timer) { clearTimeout(timer); timer = null; }
  var errors = [];
  var note = function (e) { if (e instanceof AuthNeeded) throw e; errors.push(e.message || String(e)); };
  var jobs = [
    api('/health').then(renderHealth, note),
    api('/metrics').then(renderMetrics, note),
    api('/api/v1/monitoring/usage').then(renderUsage, note),
    api('/api/v1/inventory').then(renderInventory, note),
    api('/api/v1/audit?limit=50').then(renderAudit, note),
  ];
  Promise.all(jobs).then(function () {
    $('err').style.display = errors.length ? 'block' : 'none';
    $('err').textContent = errors.join('\\n');
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    timer = setTimeout(refresh, REFRESH_MS);
  }, function (e) {
    if (e instanceof AuthNeeded) { showAuth(!!token()); return; }
    $('err').style.display = 'block';
    $('err').textContent = e.message || String(e);
    timer = setTimeout(refresh, REFRESH_MS);
  });
}

$('auth-form').addEventListener('submit', function (ev) {
  ev.preventDefault();
  var v = $('token').value.trim();
  if (!v) return;
  try { sessionStorage.setItem(TOKEN_KEY, v); } catch (e) { /* storage disabled: the token lives for this page only */ }
  $('auth').style.display = 'none';
  refresh();
});
$('forget').addEventListener('click', function () {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing stored */ }
  refresh();
});
$('reload').addEventListener('click', refresh);
refresh();
`;

const BODY = `
<header>
  <h1>dgf</h1><span class="sub">database governance proxy</span>
  <span>health <span id="health"><span class="badge b-muted">…</span></span></span>
  <span>quotas <span id="quota-status"><span class="badge b-muted">…</span></span></span>
  <span class="spacer"></span>
  <span class="sub" id="updated"></span>
  <button id="reload" type="button">Refresh</button>
  <button id="forget" type="button" title="Forget the admin token kept in this tab">Forget token</button>
</header>
<main>
  <div id="err"></div>
  <section class="w12"><div class="cards">
    <div class="card"><div class="v" id="c-clients">–</div><div class="k">client connections</div></div>
    <div class="card"><div class="v" id="c-queries">–</div><div class="k">operations</div></div>
    <div class="card"><div class="v" id="c-masked">–</div><div class="k">values masked</div></div>
    <div class="card"><div class="v" id="c-denied">–</div><div class="k">operations denied</div></div>
    <div class="card"><div class="v" id="c-queue">–</div><div class="k">audit queue depth</div></div>
  </div></section>
  <section class="w6"><h2>Listeners</h2><div id="listeners"></div></section>
  <section class="w6"><h2>Free-tier quotas</h2><div id="quotas"></div></section>
  <section class="w6"><h2>Masked values by label</h2><div id="masked"></div></section>
  <section class="w6"><h2>Denials by rule</h2><div id="denials"></div></section>
  <section class="w12"><h2>Recent audit records</h2><div id="audit"></div></section>
  <section class="w12"><h2>Data inventory</h2><div id="inventory"></div></section>
</main>
<div id="auth"><form id="auth-form">
  <h2>Admin token required</h2>
  <p>This dgf protects its API with a bearer token (<span class="mono">admin.token</span>). It is kept in this tab only.</p>
  <input type="text" name="username" value="dgf-admin" autocomplete="username" hidden>
  <input id="token" type="password" autocomplete="current-password" placeholder="token">
  <div class="msg" id="auth-msg"></div>
  <button type="submit">Open dashboard</button>
</form></div>
`;

/** The page, with a fresh nonce that the Content-Security-Policy header must allow. */
export function dashboardHtml(): { html: string; nonce: string } {
  const nonce = randomBytes(16).toString('base64');
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>dgf dashboard</title><style nonce="' + nonce + '">' + STYLE + '</style></head><body>' + BODY +
    '<script nonce="' + nonce + '">' + SCRIPT + '</script></body></html>';
  return { html, nonce };
}
