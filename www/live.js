// The live events page: the environment's newest accepted payloads (GET .../events/recent),
// flattened to events and filtered by kind, by key, and by experiment — only the events that
// count for it: exposures to its flag's treatments and conversions of its metrics' event keys,
// inside its current iteration. Pause stops refreshing; a row opens its payload's events.
import { $, el, api, announce, pageHeader, tokenForm } from '/app.js';

pageHeader('Live events', { environment: true });

const state = { paused: false, entries: [], experiments: {}, timer: null };
const project = () => encodeURIComponent($('project').value.trim() || 'default');
const envKey = () => encodeURIComponent($('env').value.trim() || 'production');
const shown = (e) => (e.variation !== undefined ? `variation ${e.variation}` : e.value !== undefined ? String(e.value) : '');

async function loadExperiments() {
  try {
    const experiments = await api('GET', `/api/v2/projects/${project()}/environments/${envKey()}/experiments`);
    state.experiments = Object.fromEntries(experiments.items.map((e) => [e.key, e]));
    const select = $('experiment-filter');
    const current = select.value;
    select.replaceChildren(el('option', { value: '' }, 'Any'),
      ...experiments.items.map((e) => el('option', { value: e.key, selected: e.key === current }, `${e.name || e.key} (${e.key})`)));
  } catch (e) { announce(e.message, true); }
}

/** Does event `e` count for experiment `x` (its current iteration)? */
function countsFor(e, x) {
  const it = x.currentIteration;
  if (!it || e.at < it.startedAt || (it.endedAt && e.at > it.endedAt)) return false;
  if (e.kind === 'feature') return e.key === it.flagKey && it.treatments.some((t) => t.variation === e.variation);
  // An iteration's metric snapshot carries the key its conversions have: the event key of a
  // custom metric, the metric's own key for click and page-view goals.
  const keys = new Set(it.metrics.map((m) => m.eventKey));
  return ['custom', 'click', 'pageview'].includes(e.kind) && keys.has(e.key);
}

function matches(e) {
  const kind = $('kind-filter').value;
  const key = $('key-filter').value.trim().toLowerCase();
  const x = state.experiments[$('experiment-filter').value];
  return (!kind || e.kind === kind) && (!key || (e.key ?? '').toLowerCase().includes(key)) && (!x || countsFor(e, x));
}

function render() {
  const rows = [];
  state.entries.forEach((entry, p) => entry.events.forEach((e) => {
    if (!matches(e) || rows.length >= 200) return;
    const tr = el('tr', { tabIndex: 0, dataset: { kind: e.kind, payload: p }, 'aria-label': `Show the payload of this ${e.kind} event` },
      el('td', {}, new Date(e.at).toLocaleTimeString()), el('td', {}, e.kind), el('td', {}, e.key ?? ''),
      el('td', {}, e.units.join(', ')), el('td', {}, shown(e)),
      el('td', {}, `${entry.source} · ${entry.accepted} events`));
    tr.addEventListener('click', () => payload(entry));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') payload(entry); });
    rows.push(tr);
  }));
  $('events').tBodies[0].replaceChildren(...rows);
  $('empty').hidden = rows.length > 0;
}

function payload(entry) {
  $('payload').hidden = false;
  const more = entry.accepted > entry.events.length ? ` (the first ${entry.events.length} are kept)` : '';
  $('payload-title').textContent = `Payload from ${entry.source} at ${new Date(entry.at).toLocaleTimeString()}: ${entry.accepted} events accepted, ${entry.rejected} rejected${more}`;
  $('payload-events').tBodies[0].replaceChildren(...entry.events.map((e, i) => el('tr', {},
    el('td', {}, i + 1), el('td', {}, new Date(e.at).toLocaleTimeString()), el('td', {}, e.kind), el('td', {}, e.key ?? ''),
    el('td', {}, e.units.join(', ')), el('td', {}, shown(e)))));
  $('payload').focus();
  announce(`Showing a payload of ${entry.events.length} events.`);
}

async function refresh() {
  if (state.paused) return;
  try {
    const feed = await api('GET', `/api/v2/projects/${project()}/environments/${envKey()}/events/recent?limit=50`);
    state.entries = feed.items;
    render();
  } catch (e) { announce(e.message, true); }
}

$('pause').addEventListener('click', () => {
  state.paused = !state.paused;
  $('pause').textContent = state.paused ? 'Resume' : 'Pause';
  $('pause').setAttribute('aria-pressed', String(state.paused));
  announce(state.paused ? 'Paused: the list no longer updates.' : 'Resumed.');
  if (!state.paused) refresh();
});
for (const id of ['kind-filter', 'experiment-filter']) $(id).addEventListener('change', render);
$('key-filter').addEventListener('input', render);
for (const id of ['project', 'env']) $(id).addEventListener('change', async () => { await loadExperiments(); refresh(); });
tokenForm(async () => {
  await loadExperiments();
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(() => { if (!document.hidden) refresh(); }, 2000);
});
