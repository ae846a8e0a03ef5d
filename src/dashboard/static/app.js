// The Testudo dashboard page: plain JavaScript, no framework, no network
// beyond the coordinator that served it. The protocol is in docs/dashboard.md:
// GET /api/dashboard/snapshot for the whole state, then one Server-Sent
// Events stream (/api/dashboard/events) read with fetch() so that a token can
// travel in the Authorization header; it resumes from the last event id.
// Every text reaches the DOM through textContent (never innerHTML).

const API = '/api/dashboard/';
const TOKEN_KEY = 'testudo-dashboard-token';
/** Reconnect backoff after a dropped stream, and how often the polling fallback polls. */
const RECONNECT_MS_MIN = 500;
const RECONNECT_MS_MAX = 5000;
const POLL_MS = 2000;
/** While polling (the stream was refused), the stream is tried again this often. */
const STREAM_RETRY_WHILE_POLLING_MS = 15000;
/** Bytes of one SSE frame the page accepts (the server caps events well below). */
const FRAME_BYTES_MAX = 4 * 1024 * 1024;

const state = { sections: {}, eventId: '', selectedRun: '', runDetail: null, receivedAtMs: Date.now(), detailLoadedAtMs: 0 };
/** A selected run's detail is fetched again at most this often while updates arrive. */
const DETAIL_REFRESH_MS = 1000;
const ui = { paused: false, view: 'cluster' };
let streamAbort = null;
let pollTimer = null;
let reconnectMs = RECONNECT_MS_MIN;
let renderQueued = false;

// ---------------------------------------------------------------- helpers

/** @returns {any} */
function $(id) {
  return document.getElementById(id);
}

/** Creates an element; attrs go through properties/attributes, children are nodes or text. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: columns, class: 'note', text: emptyText }))]));
}

function ago(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms ago`;
  if (ms < 120000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s ago`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min ago`;
  return `${Math.round(ms / 3600000)} h ago`;
}

function duration(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

function clock(ms) {
  return ms > 0 ? new Date(ms).toLocaleTimeString() : '—';
}

/** The coordinator's clock now, estimated from the node section's stamp. */
function serverNow() {
  const node = state.sections.node;
  return node ? node.atMs + (Date.now() - state.receivedAtMs) : Date.now();
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function authHeaders(extra) {
  const t = token();
  return t === '' ? { ...extra } : { ...extra, Authorization: `Bearer ${t}` };
}

function setStream(status, text) {
  document.body.dataset.stream = status;
  $('stream-status').textContent = text;
}

// ---------------------------------------------------------------- data flow

class AuthError extends Error {}

async function getJson(path) {
  const response = await fetch(API + path, { headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' });
  if (response.status === 401 || response.status === 403) throw new AuthError(await response.text());
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function applySnapshot(snapshot) {
  state.sections = { ...snapshot.sections };
  state.eventId = snapshot.eventId;
  state.receivedAtMs = Date.now();
  document.body.dataset.eventId = state.eventId;
  scheduleRender();
}

/** Runs the page keeps from deltas (the server sends at most this many in a snapshot too). */
const RUNS_SHOWN_MAX = 200;

function mergeRuns(delta) {
  const runs = state.sections.runs ?? { counts: delta.counts, runs: [], omitted: 0 };
  const byId = new Map(runs.runs.map((r) => [r.runId, r]));
  for (const id of delta.removed) byId.delete(id);
  for (const r of delta.changed) byId.set(r.runId, r);
  const sorted = [...byId.values()].sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || b.submittedAtMs - a.submittedAtMs);
  state.sections.runs = { counts: delta.counts, runs: sorted.slice(0, RUNS_SHOWN_MAX), omitted: runs.omitted + Math.max(0, sorted.length - RUNS_SHOWN_MAX) };
}

/** Samples the page keeps for the charts (the server keeps as many). */
const POINTS_MAX = 300;

/** Appends the samples a patch carries; one the snapshot already held (a patch may follow it with the same sample) is skipped. */
function addPoints(newPoints) {
  const points = state.sections.metrics?.points ?? [];
  for (const point of newPoints) {
    if (points.length > 0 && point.atMs <= points[points.length - 1].atMs) continue;
    points.push(point);
  }
  if (points.length > POINTS_MAX) points.splice(0, points.length - POINTS_MAX);
  state.sections.metrics = { points };
}

const WORKER_STATE_ORDER = { active: 0, draining: 1, lost: 2 };

function mergeWorkers(delta) {
  const byId = new Map((state.sections.workers?.workers ?? []).map((w) => [w.workerId, w]));
  for (const id of delta.removed) byId.delete(id);
  for (const w of delta.changed) byId.set(w.workerId, w);
  const workers = [...byId.values()].sort((a, b) => (WORKER_STATE_ORDER[a.state] ?? 3) - (WORKER_STATE_ORDER[b.state] ?? 3) || a.workerId.localeCompare(b.workerId));
  state.sections.workers = { workers, omitted: delta.omitted };
}

function applyPatch(id, patch) {
  for (const [name, value] of Object.entries(patch.sections ?? {})) {
    if (name === 'runsDelta') mergeRuns(value);
    else if (name === 'metricsPoints') addPoints(value);
    else if (name === 'workersDelta') mergeWorkers(value);
    else state.sections[name] = value;
  }
  if (patch.sections?.node) state.receivedAtMs = Date.now();
  state.eventId = id;
  document.body.dataset.eventId = id;
  if ((patch.sections?.runs || patch.sections?.runsDelta) && state.selectedRun !== '' && Date.now() - state.detailLoadedAtMs >= DETAIL_REFRESH_MS) void loadRunDetail(state.selectedRun);
  scheduleRender();
}

async function resync() {
  applySnapshot(await getJson('snapshot'));
}

function seqOf(id) {
  const dash = id.lastIndexOf('-');
  return { boot: id.slice(0, dash), seq: Number(id.slice(dash + 1)) };
}

/** Parses the SSE text of one stream and hands complete frames to `onFrame`. */
function sseParser(onFrame) {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    if (buffer.length > FRAME_BYTES_MAX) throw new Error('event larger than the page accepts');
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer[end] === '\r' ? 4 : 2));
      const frame = { id: '', event: 'message', data: [] };
      for (const line of block.split(/\r?\n/)) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data.push(value);
      }
      if (frame.data.length > 0) onFrame(frame);
    }
  };
}

/** Opens the one event stream of this page; resumes after state.eventId. */
async function openStream() {
  stopPolling();
  const abort = new AbortController();
  streamAbort = abort;
  const headers = authHeaders({ Accept: 'text/event-stream' });
  if (state.eventId !== '') headers['Last-Event-ID'] = state.eventId;
  let response;
  try {
    response = await fetch(API + 'events', { headers, signal: abort.signal, cache: 'no-store' });
  } catch (error) {
    if (abort.signal.aborted) return;
    return streamLost(`stream failed: ${error.message}`);
  }
  if (response.status === 401 || response.status === 403) return needToken(await response.text());
  if (response.status === 503) return startPolling('the coordinator has too many open streams');
  if (!response.ok || response.body === null) return streamLost(`stream answered HTTP ${response.status}`);
  setStream('live', 'live');
  reconnectMs = RECONNECT_MS_MIN;
  let waiting = null; // patches that arrive while a resync fetches the snapshot
  const onFrame = (frame) => {
    const data = JSON.parse(frame.data.join('\n'));
    document.body.dataset.lastFrame = frame.event;
    if (frame.event === 'snapshot') {
      applySnapshot({ eventId: frame.id, sections: data.sections });
    } else if (frame.event === 'resync') {
      waiting = [];
      resync()
        .then(() => {
          const at = seqOf(state.eventId);
          for (const p of waiting ?? []) {
            const s = seqOf(p.id);
            if (s.boot !== at.boot || s.seq > at.seq) applyPatch(p.id, p.data);
          }
        })
        .catch((error) => streamLost(`resync failed: ${error.message}`))
        .finally(() => (waiting = null));
    } else if (frame.event === 'patch') {
      if (waiting !== null) waiting.push({ id: frame.id, data });
      else applyPatch(frame.id, data);
    }
  };
  const parse = sseParser(onFrame);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parse(value);
    }
  } catch (error) {
    if (abort.signal.aborted) return;
    return streamLost(`stream dropped: ${error.message}`);
  }
  if (!abort.signal.aborted) streamLost('the coordinator closed the stream');
}

function streamLost(why) {
  streamAbort = null;
  if (ui.paused) return;
  setStream('reconnecting', `reconnecting (${why})`);
  const wait = reconnectMs;
  reconnectMs = Math.min(RECONNECT_MS_MAX, reconnectMs * 2);
  setTimeout(() => {
    if (!ui.paused && streamAbort === null) void openStream();
  }, wait);
}

function closeStream() {
  streamAbort?.abort();
  streamAbort = null;
}

function startPolling(why) {
  closeStream();
  setStream('polling', `polling every ${POLL_MS / 1000} s (${why})`);
  let sinceStreamTryMs = 0;
  const poll = async () => {
    pollTimer = null;
    if (ui.paused) return;
    try {
      await resync();
    } catch (error) {
      if (error instanceof AuthError) return needToken(error.message);
      setStream('polling', `polling; last poll failed: ${error.message}`);
    }
    sinceStreamTryMs += POLL_MS;
    if (sinceStreamTryMs >= STREAM_RETRY_WHILE_POLLING_MS) return void openStream();
    pollTimer = setTimeout(poll, POLL_MS);
  };
  pollTimer = setTimeout(poll, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}

function needToken(message) {
  closeStream();
  stopPolling();
  setStream('auth', 'sign-in needed');
  $('login').hidden = false;
  $('login-error').textContent = token() === '' ? '' : `refused: ${message.trim()}`;
  $('token').focus();
}

async function start() {
  try {
    await resync();
  } catch (error) {
    if (error instanceof AuthError) return needToken(error.message);
    setStream('error', `cannot load the snapshot: ${error.message}; retrying`);
    setTimeout(start, RECONNECT_MS_MAX);
    return;
  }
  if (typeof ReadableStream === 'undefined' || typeof TextDecoderStream === 'undefined') return startPolling('this browser cannot read streams');
  void openStream();
}

async function loadRunDetail(runId) {
  state.detailLoadedAtMs = Date.now();
  try {
    state.runDetail = await getJson(`runs/${encodeURIComponent(runId)}`);
  } catch (error) {
    state.runDetail = { error: error.message, runId };
  }
  scheduleRender();
}

// ---------------------------------------------------------------- rendering

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  renderHeader();
  if (ui.view === 'cluster') renderCluster();
  else if (ui.view === 'workers') renderWorkers();
  else if (ui.view === 'runs') renderRuns();
  else if (ui.view === 'events') renderEvents();
  else if (ui.view === 'charts') renderCharts();
}

function renderHeader() {
  const node = state.sections.node;
  if (!node) return;
  const leader = node.leaderId === '' ? 'no leader known' : node.leaderId === node.id ? 'this node leads' : `leader ${node.leaderId}`;
  const behind = node.role === 'leader' ? '' : ` · ${node.behindLeader} entries behind the leader`;
  const text = `served by ${node.id} (${node.role}) · term ${node.term} · ${leader}${behind}`;
  $('served-by').textContent = text;
  document.body.dataset.leader = node.leaderId;
}

function roleClass(role) {
  return role === 'leader' ? 'ok' : role === 'follower' ? 'info' : 'bad';
}

function renderCluster() {
  const cluster = state.sections.cluster;
  if (!cluster) return;
  const now = serverNow();
  const rows = cluster.members.map((m) => {
    const health = !m.reachable ? h('span', { class: 'bad', text: `unreachable${m.error ? `: ${m.error}` : ''}` }) : m.reason === '' ? h('span', { class: 'ok', text: 'healthy' }) : h('span', { class: 'warn', text: m.reason });
    return h(
      'tr',
      { 'data-member': m.id, 'data-role': m.role },
      h('th', { scope: 'row', text: m.id }),
      h('td', {}, h('code', { text: m.address })),
      h('td', {}, h('span', { class: `badge ${roleClass(m.role)}`, text: m.role })),
      h('td', { text: m.kind }),
      h('td', { class: 'num', text: m.reachable ? m.term : '—' }),
      h('td', { class: 'num', text: m.reachable ? m.commitIndex : '—' }),
      h('td', { class: 'num', text: m.reachable ? m.appliedIndex : '—' }),
      h('td', { class: 'num', text: m.reachable ? m.lag : '—' }),
      h('td', {}, health),
      h('td', { text: m.lastContactMs === null ? 'never' : ago(now - m.lastContactMs) }),
      h('td', { class: 'num', text: m.id === state.sections.node?.id ? 'this node' : cluster.rttMs?.[m.id] === undefined ? '—' : `${cluster.rttMs[m.id].toFixed(2)} ms` }),
    );
  });
  fill($('members').tBodies[0], rows, 'no member probed yet', 11);
  $('topology').replaceChildren(topology(cluster));
  $('cluster-note').textContent = cluster.probedAtMs > 0 ? `probed ${ago(now - cluster.probedAtMs)} by ${state.sections.node?.id ?? '?'} (the same probe as testudo cluster status)` : 'not probed yet';
  const changes = [...cluster.leaderChanges].reverse().map((c) => h('li', {}, `${clock(c.atMs)} — term ${c.term}: `, c.leaderId === '' ? h('span', { class: 'warn', text: 'no leader' }) : h('strong', { text: c.leaderId })));
  $('leader-changes').replaceChildren(...changes);
}

/** Members on a circle, the serving node's links coloured by round trip, connected workers around the leader. */
function topology(cluster) {
  const width = 520;
  const height = 300;
  const members = cluster.members;
  const self = state.sections.node?.id ?? '';
  const leader = members.find((m) => m.role === 'leader')?.id ?? '';
  const pos = new Map(members.map((m, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, members.length) - Math.PI / 2;
    return [m.id, { x: width / 2 + Math.cos(a) * 90, y: height / 2 + Math.sin(a) * 90 }];
  }));
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'topology', role: 'img', 'aria-label': `Topology: ${members.length} members, leader ${leader || 'none'}` });
  const sessions = state.sections.sessions?.workers ?? {};
  const workers = (state.sections.workers?.workers ?? []).filter((w) => sessions[w.workerId]?.connected).slice(0, 24);
  const lp = pos.get(leader);
  workers.forEach((w, i) => {
    if (!lp) return;
    const a = (2 * Math.PI * i) / Math.max(1, workers.length);
    const x = lp.x + Math.cos(a) * 55 * (lp.x < width / 2 ? -1 : 1) + (lp.x < width / 2 ? -40 : 40);
    const y = lp.y + Math.sin(a) * 55;
    chart.append(svg('line', { x1: lp.x, y1: lp.y, x2: x, y2: y, class: 'worker-link' }));
    const dot = svg('circle', { cx: x, cy: y, r: 5, class: 'worker' });
    dot.append(Object.assign(svg('title', {}), { textContent: `${w.name} (${w.workerId})` }));
    chart.append(dot);
  });
  const from = pos.get(self);
  for (const m of members) {
    const to = pos.get(m.id);
    if (!from || !to || m.id === self) continue;
    const rtt = cluster.rttMs?.[m.id];
    const cls = !m.reachable || rtt === undefined || rtt >= 50 ? 'bad' : rtt >= 5 ? 'slow' : 'fast';
    const link = svg('line', { x1: from.x, y1: from.y, x2: to.x, y2: to.y, class: `link ${cls}` });
    link.append(Object.assign(svg('title', {}), { textContent: `${self} → ${m.id}: ${rtt === undefined ? 'no round trip measured' : `${rtt.toFixed(2)} ms`}` }));
    chart.append(link);
  }
  for (const m of members) {
    const p = pos.get(m.id);
    chart.append(svg('circle', { cx: p.x, cy: p.y, r: 18, class: m.id === leader ? 'leader' : '' }));
    const label = svg('text', { x: p.x, y: p.y + 4 });
    label.textContent = m.id;
    chart.append(label);
  }
  return chart;
}

function workerMatches(w, filters, session) {
  if (filters.state === 'quarantined' ? w.breakerState !== 'forced-open' : filters.state !== '' && w.state !== filters.state) return false;
  if (filters.breaker !== '' && w.breakerState !== filters.breaker) return false;
  if (filters.label !== '') {
    const [key, value] = filters.label.split('=').map((s) => s.trim());
    if (!(key in w.labels) || (value !== undefined && value !== '' && w.labels[key] !== value)) return false;
  }
  if (filters.search !== '') {
    const hay = [w.workerId, w.name, w.httpAddress, ...Object.entries(w.labels).map(([k, v]) => `${k}=${v}`), ...w.tools, session?.connected ? 'connected' : ''].join(' ').toLowerCase();
    if (!filters.search.toLowerCase().split(/\s+/).every((word) => hay.includes(word))) return false;
  }
  return true;
}

function sessionCell(w, sessions, now) {
  if (!sessions || sessions.from === 'unavailable') return h('span', { class: 'note', text: 'leader not reachable' });
  const s = sessions.workers[w.workerId];
  const from = sessions.from === 'leader' ? ' (from leader)' : '';
  if (!s) return h('span', { class: 'note', text: `no session${from}` });
  const beat = s.lastHeartbeatMs === null ? '' : ` · heartbeat ${ago(sessions.atMs - s.lastHeartbeatMs + (now - sessions.atMs))}`;
  return h('span', { class: s.connected ? 'ok' : 'warn', text: `${s.connected ? 'connected' : 'disconnected'}${beat}${from}` });
}

function renderWorkers() {
  const section = state.sections.workers;
  if (!section) return;
  const filters = { search: $('worker-search').value.trim(), label: $('worker-label').value.trim(), state: $('worker-state').value, breaker: $('worker-breaker').value };
  const sessions = state.sections.sessions;
  const now = serverNow();
  const shown = section.workers.filter((w) => workerMatches(w, filters, sessions?.workers?.[w.workerId]));
  const rows = shown.map((w) => {
    const quarantined = w.breakerState === 'forced-open';
    const stateText = quarantined ? `${w.state}, quarantined` : w.resetting ? `${w.state}, resetting` : w.state;
    const stateClass = quarantined || w.state === 'lost' ? 'bad' : w.state === 'draining' || w.resetting ? 'warn' : 'ok';
    const breakerClass = w.breakerState === 'closed' ? 'ok' : w.breakerState === 'half-open' || w.breakerState === 'disabled' ? 'warn' : 'bad';
    return h(
      'tr',
      { 'data-worker': w.workerId, 'data-state': w.state, 'data-breaker': w.breakerState },
      h('th', { scope: 'row' }, w.workerId, w.name !== w.workerId ? h('div', { class: 'note', text: w.name }) : null),
      h('td', {}, h('span', { class: `badge ${stateClass}`, text: stateText })),
      h('td', { class: 'labels' }, Object.entries(w.labels).map(([k, v]) => h('code', { text: `${k}=${v}` }))),
      h('td', { text: `${w.cpus} CPU · ${w.memoryMb} MB${w.tools.length > 0 ? ` · ${w.tools.join(', ')}` : ''}` }),
      h('td', { class: 'num', text: `${w.running.length} / ${w.slots}` }),
      h('td', {}, h('span', { class: breakerClass, text: w.breakerState }), w.breakerReason ? h('div', { class: 'note', text: `${w.breakerReason} (since ${clock(w.breakerSinceMs)})` }) : null),
      h('td', {}, sessionCell(w, sessions, now)),
      h('td', {}, w.running.length === 0 ? '—' : w.running.map((id) => h('div', {}, h('code', { text: id })))),
    );
  });
  fill($('workers').tBodies[0], rows, section.workers.length === 0 ? 'no worker has registered' : 'no worker matches the filters', 8);
  const omitted = section.omitted > 0 ? ` (${section.omitted} more not sent)` : '';
  const source = sessions?.from === 'leader' ? `; sessions and heartbeat ages asked of the leader ${ago(now - sessions.atMs)} (only the leader holds them)` : '';
  $('workers-note').textContent = `${shown.length} of ${section.workers.length} workers shown${omitted}${source}`;
}

function renderRuns() {
  const runs = state.sections.runs;
  const queue = state.sections.queue;
  if (!runs || !queue) return;
  const tasks = runs.counts?.tasks ?? {};
  const cards = [
    ['queued', tasks.queued],
    ['running', tasks.running],
    ['passed', tasks.passed],
    ['failed', tasks.failed],
    ['failed (infra)', tasks.failedInfra],
    ['cancelled', tasks.cancelled],
    ['runs running', runs.counts?.runs?.running],
  ];
  $('counts').replaceChildren(...cards.map(([label, n]) => h('div', { 'data-count': label }, h('dt', { text: label }), h('dd', { text: n ?? 0 }))));
  const runRows = runs.runs.map((r) => {
    const done = r.counts.passed + r.counts.failed + r.counts.cancelled + r.counts.failedInfra;
    const stateClass = r.state === 'passed' ? 'ok' : r.state === 'running' ? 'info' : 'bad';
    const select = () => {
      state.selectedRun = r.runId;
      state.runDetail = null;
      void loadRunDetail(r.runId);
    };
    return h(
      'tr',
      { 'data-run': r.runId, 'data-done': done, 'data-tasks': r.counts.tasks },
      h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', onclick: select, 'aria-label': `Show run ${r.name} (${r.runId})` }, r.name), h('div', { class: 'note', text: r.runId })),
      h('td', {}, h('span', { class: `badge ${stateClass}`, text: r.degraded ? `${r.state}, degraded` : r.state })),
      h('td', {}, h('progress', { max: Math.max(1, r.counts.tasks), value: done, 'aria-label': `${done} of ${r.counts.tasks} tasks done` }), ` ${done}/${r.counts.tasks}`),
      h('td', { class: 'num', text: r.counts.tasks }),
      h('td', { class: 'num', text: r.counts.passed }),
      h('td', { class: 'num', text: r.counts.failed }),
      h('td', { class: 'num', text: r.counts.failedInfra }),
      h('td', { text: clock(r.submittedAtMs) }),
    );
  });
  fill($('runs').tBodies[0], runRows, 'no run yet', 8);
  renderRunDetail();
  const want = $('queue-state').value;
  const search = $('queue-search').value.trim().toLowerCase();
  const now = serverNow();
  const queueRows = queue.tasks
    .filter((t) => (want === '' || t.state === want) && (search === '' || `${t.taskId} ${t.runName} ${t.suite} ${t.workerId}`.toLowerCase().includes(search)))
    .map((t) =>
      h(
        'tr',
        { 'data-task': t.taskId, 'data-state': t.state },
        h('th', { scope: 'row' }, h('code', { text: t.taskId })),
        h('td', { text: t.runName }),
        h('td', { text: `${t.suite}${t.shardCount > 1 ? ` #${t.shard}/${t.shardCount}` : ''}` }),
        h('td', { class: 'num', text: t.priority }),
        h('td', {}, h('span', { class: t.state === 'running' ? 'info' : 'note', text: t.state })),
        h('td', { class: 'num', text: t.attempts }),
        h('td', { text: t.workerId || '—' }),
        h('td', { text: duration(now - (t.state === 'running' ? t.startedAtMs : t.queuedAtMs)) }),
      ),
    );
  fill($('queue').tBodies[0], queueRows, queue.tasks.length === 0 ? 'the queue is empty' : 'no task matches', 8);
}

function reportLink(runId, format, label) {
  const href = `${API}runs/${encodeURIComponent(runId)}/report.${format}`;
  // With a token the download goes through fetch (the header), never a URL with the token in it.
  const onclick = (event) => {
    if (token() === '') return;
    event.preventDefault();
    fetch(href, { headers: authHeaders({}) })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const a = h('a', { href: url, download: `testudo-report-${runId}.${format}` });
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      })
      .catch((error) => alert(`download failed: ${error.message}`));
  };
  return h('a', { href, download: '', onclick }, label);
}

function renderRunDetail() {
  const box = $('run-detail');
  const d = state.runDetail;
  if (state.selectedRun === '' || d === null) {
    box.hidden = state.selectedRun === '';
    return;
  }
  box.hidden = false;
  const close = h('button', { type: 'button', onclick: () => ((state.selectedRun = ''), (state.runDetail = null), scheduleRender()) }, 'Close');
  if (d.error) {
    box.replaceChildren(h('h2', { text: `Run ${d.runId}` }), h('p', { class: 'error', text: d.error }), close);
    return;
  }
  const attempts = d.tasks.flatMap((t) => t.attempts.map((a) => ({ ...a, taskId: t.taskId })));
  const failing = d.failing.map((f) => h('li', {}, h('code', { text: `${f.suite} › ${f.id}` }), ` ${f.status}${f.message ? `: ${f.message}` : ''}`));
  const flaky = d.flaky.map((f) => h('li', {}, h('code', { text: `${f.suite} › ${f.id}` }), f.rate === null ? '' : ` (flaky rate ${(f.rate * 100).toFixed(0)}%)`));
  const decisions = d.tasks.flatMap((t) => t.decisions.map((x) => h('li', {}, `${clock(x.atMs)} ${t.taskId}: level ${x.level} ${x.action} (${x.failureClass} on ${x.workerId}) — ${x.reason}`)));
  box.replaceChildren(
    h('h2', { text: `Run ${d.name} (${d.runId}): ${d.state}` }),
    h('p', {}, 'Reports: ', reportLink(d.runId, 'html', 'HTML'), ' · ', reportLink(d.runId, 'json', 'JSON'), ' · ', reportLink(d.runId, 'md', 'Markdown'), ' ', close),
    h('h3', { text: 'Attempts per worker' }),
    gantt(attempts, d),
    h('h3', { text: `Failing tests (${d.failing.length})` }),
    failing.length > 0 ? h('ul', {}, failing) : h('p', { class: 'note', text: 'none' }),
    h('h3', { text: `Flaky tests (${d.flaky.length})` }),
    flaky.length > 0 ? h('ul', {}, flaky) : h('p', { class: 'note', text: 'none' }),
    h('h3', { text: 'Recovery decisions' }),
    decisions.length > 0 ? h('ul', {}, decisions) : h('p', { class: 'note', text: 'none' }),
    attemptTable(attempts),
  );
}

/** A Gantt of the run: one row per worker, one bar per attempt (coordinator clock for the start). */
function gantt(attempts, d) {
  if (attempts.length === 0) return h('p', { class: 'note', text: 'no attempt yet' });
  const now = serverNow();
  const start = Math.min(...attempts.map((a) => a.assignedAtMs));
  const endOf = (a) => (a.state === 'running' ? now : a.finishedAtMs > a.assignedAtMs ? a.finishedAtMs : a.assignedAtMs + 1);
  const end = Math.max(d.finishedAtMs || 0, ...attempts.map(endOf), start + 1);
  const workers = [...new Set(attempts.map((a) => a.workerId))].sort();
  const rows = workers.flatMap((w) => {
    // Attempts that overlap (a worker has several slots) go to separate lanes.
    const lanes = [];
    for (const a of attempts.filter((x) => x.workerId === w).sort((x, y) => x.assignedAtMs - y.assignedAtMs)) {
      let lane = lanes.find((l) => l.endMs <= a.assignedAtMs);
      if (lane === undefined) lanes.push((lane = { endMs: 0, track: h('div', { class: 'gantt-track' }) }));
      lane.endMs = endOf(a);
      const bar = h('span', { class: `gantt-bar ${a.state}`, title: `${a.taskId} attempt ${a.number}: ${a.state}` });
      // CSSOM, not a style attribute: allowed under the page's CSP.
      bar.style.left = `${((a.assignedAtMs - start) / (end - start)) * 100}%`;
      bar.style.width = `${((endOf(a) - a.assignedAtMs) / (end - start)) * 100}%`;
      lane.track.append(bar);
    }
    return lanes.map((lane, i) => h('div', { class: 'gantt-row' }, h('span', { class: 'gantt-label', text: i === 0 ? w : '' }), lane.track));
  });
  return h('div', { class: 'gantt', role: 'img', 'aria-label': `Timeline of ${attempts.length} attempts on ${workers.length} workers over ${duration(end - start)}` }, rows);
}

function attemptTable(attempts) {
  const rows = attempts.map((a) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('code', { text: a.attemptId })),
      h('td', { text: a.workerId }),
      h('td', { text: a.state }),
      h('td', { text: a.reason || a.infraClass || '' }),
      h('td', {}, a.logUrl === '' ? '—' : h('a', { href: a.logUrl, rel: 'noreferrer', target: '_blank' }, 'log')),
    ),
  );
  return h(
    'details',
    {},
    h('summary', { text: `Attempts (${attempts.length})` }),
    h('table', {}, h('thead', {}, h('tr', {}, ['Attempt', 'Worker', 'State', 'Reason', 'Log'].map((c) => h('th', { scope: 'col', text: c })))), h('tbody', {}, rows)),
  );
}

/** Faults the timeline draws at most (the newest). */
const FAULTS_DRAWN_MAX = 40;

function faultIntensity(f) {
  return f.wanted ? `${f.intensity} (asked ${f.wanted}: ${f.adaptedReason})` : f.intensity;
}

function faultTargets(f) {
  return `${f.targets.join(', ') || '—'}${f.targetsOmitted > 0 ? ` and ${f.targetsOmitted} more` : ''}`;
}

function renderFaults() {
  const section = state.sections.faults;
  if (!section) return;
  const now = serverNow();
  const active = section.faults.filter((f) => f.healedAtMs === 0).reverse();
  const rows = active.map((f) =>
    h(
      'tr',
      { 'data-fault': f.id, 'data-type': f.type },
      h('th', { scope: 'row' }, h('span', { class: 'badge bad', text: f.type })),
      h('td', { text: faultIntensity(f) }),
      h('td', { text: f.scope }),
      h('td', { text: faultTargets(f) }),
      h('td', {}, Object.entries(f.params).map(([k, v]) => h('code', { text: `${k}=${v}` })).flatMap((c) => [c, ' '])),
      h('td', { text: `${duration(now - f.startedAtMs)} (since ${clock(f.startedAtMs)})` }),
      h('td', { text: f.source }),
    ),
  );
  fill($('faults-active').tBodies[0], rows, 'no fault is active', 7);
  const notes = [];
  if (section.omitted > 0) notes.push(`${section.omitted} older faults not shown`);
  if (section.unread) notes.push('more fault records are kept than the dashboard reads: the newest may be missing');
  if (section.malformed > 0) notes.push(`${section.malformed} keys under chaos/faults/ hold no fault record`);
  $('fault-timeline').replaceChildren(faultTimeline(section.faults.slice(-FAULTS_DRAWN_MAX), now, notes));
}

/** One row per fault, newest on top, a bar from its start to its heal (or now, when still active). */
function faultTimeline(faults, now, notes) {
  const parts = notes.map((n) => h('p', { class: 'note', text: n }));
  if (faults.length === 0) return h('div', {}, parts, h('p', { class: 'note', text: 'no fault recorded' }));
  const start = Math.min(...faults.map((f) => f.startedAtMs));
  const endOf = (f) => (f.healedAtMs === 0 ? Math.max(now, f.startedAtMs + 1) : Math.max(f.healedAtMs, f.startedAtMs + 1));
  const end = Math.max(...faults.map(endOf), start + 1);
  const rows = [...faults].reverse().map((f) => {
    const activeNow = f.healedAtMs === 0;
    const bar = h('span', { class: `gantt-bar ${activeNow ? 'fault-active' : 'fault-healed'}`, title: `${f.type}/${f.intensity} on ${faultTargets(f)}: ${clock(f.startedAtMs)} – ${activeNow ? 'active' : clock(f.healedAtMs)}` });
    bar.style.left = `${((f.startedAtMs - start) / (end - start)) * 100}%`;
    bar.style.width = `${((endOf(f) - f.startedAtMs) / (end - start)) * 100}%`;
    return h(
      'div',
      { class: 'gantt-row', 'data-fault': f.id, 'data-active': String(activeNow) },
      h('span', { class: 'gantt-label fault-label', text: `${f.type}/${f.intensity} → ${faultTargets(f)}` }),
      h('div', { class: 'gantt-track' }, bar),
      h('span', { class: 'fault-span', text: activeNow ? `active ${duration(now - f.startedAtMs)}` : `${duration(f.healedAtMs - f.startedAtMs)}, healed ${clock(f.healedAtMs)}` }),
    );
  });
  const label = `Timeline of ${faults.length} faults over ${duration(end - start)}, ${faults.filter((f) => f.healedAtMs === 0).length} active`;
  return h('div', {}, parts, h('div', { class: 'gantt', role: 'img', 'aria-label': label }, rows));
}

function renderEvents() {
  renderFaults();
  const events = state.sections.events;
  if (!events) return;
  const rows = [...events.recent].reverse().map((e) => h('tr', {}, h('td', { text: clock(e.atMs) }), h('td', { text: e.kind }), h('td', { text: e.workerId || '—' }), h('td', { text: e.text })));
  fill($('events').tBodies[0], rows, 'nothing yet', 4);
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Per-second rate of a growing counter between samples (a drop, e.g. runs pruned, counts as 0). */
function rate(points, key) {
  return points.slice(1).map((p, i) => {
    const prev = points[i];
    const seconds = Math.max(0.001, (p.atMs - prev.atMs) / 1000);
    return { atMs: p.atMs, v: Math.max(0, p[key] - prev[key]) / seconds };
  });
}

function gauge(points, key) {
  return points.map((p) => ({ atMs: p.atMs, v: p[key] }));
}

/** A small line chart: one polyline per series (a dot for a series of one sample, which a line cannot show), the y axis from 0 to the largest value. */
function lineChart(title, unit, series, emptyText = 'collecting samples…') {
  const width = 340;
  const height = 120;
  const left = 36;
  const all = series.flatMap((s) => s.values);
  const figure = h('figure', { class: 'chart' }, h('h3', { text: title }));
  if (all.length < 2) {
    figure.append(h('p', { class: 'note', text: emptyText }));
    return figure;
  }
  const t0 = Math.min(...all.map((p) => p.atMs));
  const t1 = Math.max(...all.map((p) => p.atMs), t0 + 1);
  const max = Math.max(...all.map((p) => p.v), 1e-9);
  const latest = series.map((s) => `${s.name} ${format(s.values[s.values.length - 1]?.v ?? 0)} ${unit}`).join(', ');
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}: now ${latest}; highest ${format(max)} ${unit}` });
  chart.append(svg('line', { x1: left, y1: 4, x2: left, y2: height - 14, class: 'axis' }), svg('line', { x1: left, y1: height - 14, x2: width, y2: height - 14, class: 'axis' }));
  const top = svg('text', { x: 2, y: 12, class: 'tick' });
  top.textContent = format(max);
  const span = svg('text', { x: left, y: height - 2, class: 'tick' });
  span.textContent = `last ${Math.round((t1 - t0) / 1000)} s`;
  chart.append(top, span);
  series.forEach((s, i) => {
    const pts = s.values.map((p) => `${(left + ((p.atMs - t0) / (t1 - t0)) * (width - left - 4)).toFixed(1)},${(height - 14 - (p.v / max) * (height - 20)).toFixed(1)}`);
    const cls = s.cls ?? `s${i}`;
    if (pts.length === 1) {
      const [cx, cy] = pts[0].split(',');
      chart.append(svg('circle', { cx, cy, r: 2.5, class: `point ${cls}` }));
    } else if (pts.length > 1) chart.append(svg('polyline', { points: pts.join(' '), class: cls }));
  });
  figure.append(chart, h('p', { class: 'legend' }, series.map((s, i) => h('span', { class: s.cls ?? `s${i}`, text: s.name }))));
  return figure;
}

function format(v) {
  return v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function renderCharts() {
  const points = state.sections.metrics?.points ?? [];
  $('charts').replaceChildren(
    lineChart('Task throughput', 'tasks/s', [{ name: 'ended', values: rate(points, 'ended') }]),
    lineChart('Queue depth', 'tasks', [{ name: 'queued', values: gauge(points, 'queued') }, { name: 'running', values: gauge(points, 'running') }]),
    lineChart('Task outcomes', 'tasks/s', [
      { name: 'passed', values: rate(points, 'passed'), cls: 's1' },
      { name: 'failed', values: rate(points, 'failed'), cls: 's2' },
      { name: 'failed (infra)', values: rate(points, 'failedInfra'), cls: 's3' },
    ]),
    lineChart('Commits', 'entries/s', [{ name: 'commit rate', values: rate(points, 'commitIndex') }]),
    commitLatencyChart(points),
    lineChart('Fsync', 'ms', [{ name: 'median', values: gauge(points, 'fsyncP50Ms') }, { name: 'longest', values: gauge(points, 'fsyncMaxMs') }]),
  );
}

/** Proposal → committed on the leader, per second of samples in which the leader committed any; a follower proposes nothing and says so. */
function commitLatencyChart(points) {
  const withCommits = points.filter((p) => p.commits > 0);
  const figure = lineChart(
    'Commit latency',
    'ms',
    [
      { name: 'median', values: gauge(withCommits, 'commitP50Ms') },
      { name: '99th percentile', values: gauge(withCommits, 'commitP99Ms') },
    ],
    'no proposal committed here yet',
  );
  figure.dataset.chart = 'commit-latency';
  const node = state.sections.node;
  if (node && node.role !== 'leader') {
    figure.append(h('p', { class: 'note', text: `Measured by the leader, where proposals are made; ${node.id} is a ${node.role} (only the time it led shows here): see the leader's page, or testudo_raft_commit_latency_seconds on its /metrics.` }));
  }
  return figure;
}

// ---------------------------------------------------------------- controls

function selectTab(name, focus) {
  ui.view = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) tab.focus();
  }
  scheduleRender();
}

function wireControls() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const [i, tab] of tabs.entries()) {
    tab.addEventListener('click', () => selectTab(tab.id.slice(4), false));
    tab.addEventListener('keydown', (event) => {
      const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
      if (step === 0) return;
      event.preventDefault();
      selectTab(tabs[(i + step + tabs.length) % tabs.length].id.slice(4), true);
    });
  }
  // Filters answer at once (not at the next frame), so what is shown always matches them.
  for (const id of ['worker-search', 'worker-label', 'worker-state', 'worker-breaker', 'queue-state', 'queue-search']) $(id).addEventListener('input', render);
  $('pause').addEventListener('click', () => {
    ui.paused = !ui.paused;
    $('pause').setAttribute('aria-pressed', String(ui.paused));
    $('pause').textContent = ui.paused ? 'Resume updates' : 'Pause updates';
    if (ui.paused) {
      closeStream();
      stopPolling();
      setStream('paused', `paused at event ${state.eventId}`);
    } else {
      void openStream();
    }
  });
  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    $('login').hidden = true;
    $('sign-out').hidden = false;
    void start();
  });
  $('sign-out').hidden = token() === '';
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  // Ages ("3 s ago") move on between updates.
  setInterval(scheduleRender, 1000);
}

wireControls();
void start();
