// The metrics page: list (search, kind and tag filters, sort, pages over the REST list API),
// create and edit in LaunchDarkly's flow (event kind → event key from the catalogue of keys
// recently received → what to measure → randomization unit → success criteria → details), and
// delete. The API's errors are shown next to the field or action they concern.
import { $, el, api, announce, actionError, pageHeader, slug, tokenForm, fieldError } from '/app.js';

pageHeader('Metrics');

const PAGE = 20;
const state = { offset: 0, total: 0, editing: null, catalogue: [], keyTouched: false, experiments: {} };
const project = () => encodeURIComponent($('project').value.trim() || 'default');
const form = $('metric-form');
const radio = (name) => form.querySelector(`input[name="${name}"]:checked`).value;
const setRadio = (name, value) => { form.querySelector(`input[name="${name}"][value="${value}"]`).checked = true; };

function measureText(m) {
  if (!m.isNumeric) return m.unitAggregationType === 'sum' ? 'count of events' : 'occurrence';
  const per = `${m.unitAggregationType} per unit`;
  const how = m.analysisType === 'percentile' ? `p${m.percentileValue} of ${per}` : `mean of ${per}`;
  return `${how}${m.unit ? ` (${m.unit})` : ''}${m.eventDefault?.disabled === false ? ', missing = 0' : ''}`;
}

async function loadExperiments() {
  // Which experiments use each metric (in every environment of the project we can list).
  state.experiments = {};
  try {
    const list = await api('GET', `/api/v2/projects/${project()}/environments/production/experiments`);
    for (const e of list.items) for (const m of e.metrics) (state.experiments[m.key] ??= []).push(e.key);
  } catch { /* the list still shows counts */ }
}

function row(m) {
  const used = state.experiments[m.key] ?? [];
  const actions = el('td', { className: 'writer-only' },
    el('button', { type: 'button', onclick: () => openEditor(m), 'aria-label': `Edit ${m.key}` }, 'Edit'), ' ',
    el('button', { type: 'button', className: 'danger', onclick: () => remove(m, actions), 'aria-label': `Delete ${m.key}` }, 'Delete'));
  return el('tr', { dataset: { key: m.key } },
    el('td', {}, m.name), el('td', {}, el('code', {}, m.key)), el('td', {}, m.kind),
    el('td', {}, m.eventKey ?? (m.kind === 'click' ? m.selector : '—')),
    el('td', {}, measureText(m)),
    el('td', {}, m.successCriteria === 'LowerThanBaseline' ? 'lower is better' : 'higher is better'),
    el('td', {}, used.length ? used.join(', ') : String(m.experimentCount ?? 0), m.activeExperimentCount ? ` (${m.activeExperimentCount} running)` : ''),
    el('td', {}, (m.tags ?? []).map((t) => el('span', { className: 'tag' }, t))),
    actions);
}

async function loadList() {
  const terms = [];
  const search = $('search').value.replace(/[,:]/g, ' ').trim();
  if (search) terms.push(`query:${search}`);
  if ($('kind-filter').value) terms.push(`eventKind:${$('kind-filter').value}`);
  if ($('tag-filter').value.trim()) terms.push(`tags:${$('tag-filter').value.trim()}`);
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset), sort: $('sort').value });
  if (terms.length) q.set('filter', terms.join(','));
  try {
    const [list] = await Promise.all([api('GET', `/api/v2/metrics/${project()}?${q}`), loadExperiments()]);
    state.total = list.totalCount;
    $('metrics').tBodies[0].replaceChildren(...list.items.map(row));
    const last = Math.min(state.offset + PAGE, state.total);
    $('page').textContent = state.total ? `${state.offset + 1}–${last} of ${state.total}` : 'No metrics match.';
    $('prev').disabled = state.offset === 0;
    $('next').disabled = last >= state.total;
  } catch (e) { announce(e.message, true); }
}

// ---- the URL matcher rows of click and page-view metrics ----
function urlRow(u = { kind: 'substring', substring: '' }) {
  const kind = el('select', { 'aria-label': 'URL match kind', dataset: { field: 'urls' } },
    ...['exact', 'canonical', 'substring', 'regex'].map((k) => el('option', { value: k, selected: k === u.kind }, k)));
  const value = el('input', { 'aria-label': 'URL, substring or pattern', value: u.url ?? u.substring ?? u.pattern ?? '', dataset: { field: u.kind === 'regex' ? 'pattern' : 'urls' } });
  kind.addEventListener('change', () => { value.dataset.field = kind.value === 'regex' ? 'pattern' : 'urls'; });
  const drop = el('button', { type: 'button', 'aria-label': 'Remove this URL matcher' }, 'Remove');
  const line = el('div', { className: 'bar url-row' }, kind, value, drop);
  drop.addEventListener('click', () => line.remove());
  return line;
}

function urls() {
  return [...$('urls').querySelectorAll('.url-row')].map((r) => {
    const [kind, value] = r.querySelectorAll('select, input');
    const field = { exact: 'url', canonical: 'url', substring: 'substring', regex: 'pattern' }[kind.value];
    return { kind: kind.value, [field]: value.value };
  });
}

// ---- the form: visibility by kind and measure, body, prefill ----
function refreshForm() {
  const kind = radio('kind');
  for (const part of form.querySelectorAll('[data-for]')) part.hidden = !part.dataset.for.split(' ').includes(kind);
  if (kind !== 'custom' && radio('measure') === 'value') setRadio('measure', 'occurrence');
  $('value-options').hidden = radio('measure') !== 'value';
  $('percentile-label').hidden = $('analysis').value !== 'percentile';
}

function body() {
  const kind = radio('kind');
  const measure = radio('measure');
  const b = { key: $('key').value.trim(), name: $('name').value.trim(), kind,
    successCriteria: $('success').value, randomizationUnits: [$('randomization').value] };
  if ($('description').value.trim()) b.description = $('description').value.trim();
  const tags = $('tags').value.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags.length) b.tags = tags;
  if ($('maintainer').value.trim()) b.maintainerId = $('maintainer').value.trim();
  if (kind === 'custom') b.eventKey = $('event-key').value;
  if (kind === 'click') b.selector = $('selector').value;
  if (kind !== 'custom') b.urls = urls();
  b.isNumeric = measure === 'value';
  b.unitAggregationType = measure === 'count' ? 'sum' : measure === 'value' ? $('per-unit').value : 'average';
  if (measure === 'value') {
    if ($('unit').value.trim()) b.unit = $('unit').value.trim();
    b.analysisType = $('analysis').value;
    if (b.analysisType === 'percentile') b.percentileValue = Number($('percentile').value);
    b.eventDefault = $('missing').value === 'zero' ? { disabled: false, value: 0 } : { disabled: true };
  }
  return b;
}

function prefill(m) {
  form.reset();
  setRadio('kind', m?.kind ?? 'custom');
  $('urls').replaceChildren(...(m?.urls ?? [{ kind: 'substring', substring: '/' }]).map(urlRow));
  $('randomization').value = 'user';
  if (!m) return;
  $('event-key').value = m.eventKey ?? '';
  $('selector').value = m.selector ?? '';
  setRadio('measure', m.isNumeric ? 'value' : m.unitAggregationType === 'sum' ? 'count' : 'occurrence');
  $('unit').value = m.unit ?? '';
  $('per-unit').value = m.unitAggregationType ?? 'average';
  $('analysis').value = m.analysisType ?? 'mean';
  $('percentile').value = m.percentileValue ?? 90;
  $('missing').value = m.eventDefault?.disabled === false ? 'zero' : 'exclude';
  $('success').value = m.successCriteria ?? 'HigherThanBaseline';
  $('randomization').value = m.randomizationUnits?.[0] ?? 'user';
  $('name').value = m.name; $('key').value = m.key; $('key').disabled = true;
  $('tags').value = (m.tags ?? []).join(', ');
  $('maintainer').value = m.maintainerId ?? '';
  $('description').value = m.description ?? '';
}

async function openEditor(m = null) {
  state.editing = m;
  state.keyTouched = Boolean(m);
  $('key').disabled = false;
  await loadCatalogue('');
  const kinds = new Set(['user', ...state.catalogue.flatMap((e) => e.contextKinds), ...(m?.randomizationUnits ?? [])]);
  $('randomization').replaceChildren(...[...kinds].sort().map((k) => el('option', { value: k }, k)));
  prefill(m);
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  $('editor-title').textContent = m ? `Edit metric ${m.key}` : 'Create metric';
  $('save').textContent = m ? 'Save changes' : 'Create metric';
  refreshForm();
  $('editor').showModal();
  (m ? $('name') : form.querySelector('input[name="kind"]:checked')).focus();
}

/** JSON Patch from the metric as stored to the form's body (fields it can change). */
function patchOps(stored, wanted) {
  const fields = ['name', 'description', 'tags', 'maintainerId', 'kind', 'eventKey', 'selector', 'urls', 'isNumeric', 'unit',
    'unitAggregationType', 'analysisType', 'percentileValue', 'eventDefault', 'successCriteria', 'randomizationUnits'];
  const ops = [{ op: 'test', path: '/_version', value: stored._version }];
  for (const f of fields) {
    const [has, want] = [f in stored && stored[f] !== null, f in wanted];
    if (want && JSON.stringify(stored[f]) !== JSON.stringify(wanted[f])) ops.push({ op: has ? 'replace' : 'add', path: `/${f}`, value: wanted[f] });
    else if (!want && has && !['description', 'tags', 'maintainerId', 'eventDefault'].includes(f)) ops.push({ op: 'remove', path: `/${f}` });
  }
  return ops;
}

async function save(ev) {
  ev.preventDefault();
  const wanted = body();
  try {
    const saved = state.editing
      ? await api('PATCH', `/api/v2/metrics/${project()}/${encodeURIComponent(state.editing.key)}`, patchOps(state.editing, wanted))
      : await api('POST', `/api/v2/metrics/${project()}`, wanted);
    $('editor').close();
    announce(`Metric ${saved.key} ${state.editing ? 'saved' : 'created'}.`);
    await loadList();
  } catch (e) {
    // `urls[i]` names one URL matcher row: point at its value.
    const row = /`urls\[(\d+)\]/.exec(e.message);
    const target = row ? $('urls').querySelectorAll('.url-row input')[Number(row[1])] : e.field;
    fieldError(form, target, e.message, $('editor-title').parentElement);
    announce(e.message, true);
  }
}

async function remove(m, cell) {
  if (!confirm(`Delete metric ${m.key}?`)) return;
  try {
    await api('DELETE', `/api/v2/metrics/${project()}/${encodeURIComponent(m.key)}`);
    announce(`Metric ${m.key} deleted.`);
    await loadList();
  } catch (e) {
    actionError(cell, e.message);
  }
}

// ---- event-key autocomplete from the catalogue ----
const ago = (t) => { const s = Math.max(0, (Date.now() - t) / 1000); return s < 120 ? `${s.toFixed(0)} s ago` : s < 7200 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(0)} h ago`; };
const details = (e) => `${e.key}: seen in ${e.environments.join(', ')} · context kinds ${e.contextKinds.join(', ') || '—'} · SDKs ${e.sdks.join(', ') || 'unknown'} · ${e.count} events · last ${ago(e.lastSeen)}`;

async function loadCatalogue(search) {
  try {
    const q = new URLSearchParams({ search, limit: search ? '10' : '100' });
    state.catalogue = (await api('GET', `/api/v2/projects/${project()}/event-keys?${q}`)).items;
  } catch { state.catalogue = []; }
  return state.catalogue;
}

function showSuggestions(items) {
  const list = $('suggestions');
  list.replaceChildren(...items.filter((e) => e.kinds.includes('custom')).map((e, i) => {
    const li = el('li', { role: 'option', id: `suggestion-${i}`, title: details(e), dataset: { key: e.key } }, e.key);
    li.addEventListener('mouseenter', () => { $('key-details').textContent = details(e); });
    li.addEventListener('mousedown', (ev) => { ev.preventDefault(); pick(e); });
    return li;
  }));
  list.hidden = list.children.length === 0;
  $('event-key').setAttribute('aria-expanded', String(!list.hidden));
}

function pick(e) {
  $('event-key').value = e.key;
  $('key-details').textContent = details(e);
  $('suggestions').hidden = true;
  $('event-key').setAttribute('aria-expanded', 'false');
}

function keyboard(ev) {
  const options = [...$('suggestions').children];
  if ($('suggestions').hidden || !options.length) return;
  const at = options.findIndex((o) => o.getAttribute('aria-selected') === 'true');
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    const next = options[(at + (ev.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length];
    options.forEach((o) => o.setAttribute('aria-selected', String(o === next)));
    $('event-key').setAttribute('aria-activedescendant', next.id);
    $('key-details').textContent = next.title;
  } else if (ev.key === 'Enter' && at >= 0) {
    ev.preventDefault();
    pick(state.catalogue.find((e) => e.key === options[at].dataset.key));
  } else if (ev.key === 'Escape') {
    $('suggestions').hidden = true;
  }
}

let typing;
$('event-key').addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(async () => showSuggestions(await loadCatalogue($('event-key').value)), 150);
});
$('event-key').addEventListener('focus', async () => showSuggestions(await loadCatalogue($('event-key').value)));
$('event-key').addEventListener('keydown', keyboard);
$('event-key').addEventListener('blur', () => setTimeout(() => { $('suggestions').hidden = true; }, 100));

// ---- wiring ----
form.addEventListener('change', refreshForm);
form.addEventListener('submit', save);
$('name').addEventListener('input', () => {
  if (!state.keyTouched) $('key').value = slug($('name').value);
});
$('key').addEventListener('input', () => { state.keyTouched = true; });
$('add-url').addEventListener('click', () => $('urls').append(urlRow()));
$('cancel').addEventListener('click', () => $('editor').close());
$('create').addEventListener('click', () => openEditor());
$('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); loadList(); });
$('next').addEventListener('click', () => { state.offset += PAGE; loadList(); });
for (const id of ['search', 'kind-filter', 'tag-filter', 'sort', 'project']) {
  $(id).addEventListener(id === 'search' ? 'input' : 'change', () => { state.offset = 0; loadList(); });
}
tokenForm(async () => loadList());
