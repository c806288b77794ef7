// The experiments page: the environment's experiments with their status; create one (flag,
// treatments with allocation and baseline, randomization unit, primary and secondary metrics,
// analysis); start and stop iterations; open its results on the dashboard.
import { $, el, api, announce, actionError, pageHeader, slug, tokenForm, fieldError } from '/app.js';

pageHeader('Experiments', { environment: true });

const state = { flags: [], metrics: [], keyTouched: false };
const project = () => encodeURIComponent($('project').value.trim() || 'default');
const envPath = () => `/api/v2/projects/${project()}/environments/${encodeURIComponent($('env').value.trim() || 'production')}/experiments`;
const form = $('experiment-form');

function status(e) {
  const it = e.currentIteration;
  if (!it) return el('span', { className: 'badge' }, 'not started');
  return el('span', { className: `badge ${it.status}` }, `${it.status} · iteration ${it.id}`);
}

function row(e) {
  const running = e.currentIteration?.status === 'running';
  const cell = el('td', {});
  const act = (kind, label) => el('button', { type: 'button', className: 'writer-only', onclick: () => iteration(e, kind, cell), 'aria-label': `${label} ${e.key}` }, label);
  cell.append(running ? act('stopIteration', 'Stop') : act('startIteration', 'Start'), ' ',
    el('a', { href: `/dashboard.html#experiment=${encodeURIComponent(e.key)}` }, 'Results'));
  return el('tr', { dataset: { key: e.key } },
    el('td', {}, e.name || e.key), el('td', {}, el('code', {}, e.key)), el('td', {}, e.flagKey),
    el('td', {}, e.ruleId ? el('span', {}, 'rule ', el('code', {}, e.ruleId)) : 'fallthrough'), el('td', {}, status(e)),
    el('td', {}, e.metrics.map((m) => `${m.key}${m.primary ? ' (primary)' : ''}`).join(', ')),
    el('td', {}, e.analysis ?? 'bayesian'), cell);
}

async function loadList() {
  try {
    const list = await api('GET', envPath());
    $('experiments').tBodies[0].replaceChildren(...list.items.map(row));
    if (!list.items.length) announce('No experiments in this environment yet.');
  } catch (e) { announce(e.message, true); }
}

async function iteration(e, kind, cell) {
  try {
    await api('PATCH', `${envPath()}/${encodeURIComponent(e.key)}`, { instructions: [{ kind }] }, 'application/json; domain-model=launchdarkly.semanticpatch');
    announce(`${kind === 'startIteration' ? 'Started' : 'Stopped'} ${e.key}.`);
    await loadList();
  } catch (err) {
    actionError(cell, err.message);
  }
}

// ---- the create dialog ----
/** What a rule says, in a line: its description, else its clauses. */
function ruleLabel(rule, i) {
  const clauses = rule.clauses.map((c) => `${c.negate ? 'not ' : ''}${c.op === 'segmentMatch' ? 'in segment' : `${c.attribute} ${c.op}`} ${c.values.join(', ')}`);
  return `Rule ${i + 1}: ${rule.description || clauses.join(' and ')}`;
}

/** The rules of the chosen flag in this environment, and the fallthrough, to run the experiment on. */
function ruleOptions() {
  const flag = state.flags.find((f) => f.key === $('flag').value);
  const rules = flag?.environments?.[$('env').value.trim() || 'production']?.rules ?? [];
  $('rule').replaceChildren(el('option', { value: '' }, 'Fallthrough (everyone no rule serves)'),
    ...rules.map((r, i) => el('option', { value: r._id }, ruleLabel(r, i))));
}

function treatmentRows() {
  ruleOptions();
  const flag = state.flags.find((f) => f.key === $('flag').value);
  const variations = flag?.variations ?? [];
  const share = variations.length ? (100 / variations.length).toFixed(2).replace(/\.?0+$/, '') : '0';
  $('treatments').tBodies[0].replaceChildren(...variations.map((v, i) => el('tr', { dataset: { variation: i } },
    el('td', {}, el('input', { type: 'checkbox', checked: true, 'aria-label': `Include variation ${i}` })),
    el('td', {}, `${i}: ${v.name ?? JSON.stringify(v.value)}`),
    el('td', {}, el('input', { value: v.name ?? `Variation ${i}`, 'aria-label': `Name of variation ${i}` })),
    el('td', {}, el('input', { type: 'number', min: '0', max: '100', step: 'any', value: share, 'aria-label': `Allocation of variation ${i}` })),
    el('td', {}, el('input', { type: 'radio', name: 'baseline', checked: i === 0, 'aria-label': `Variation ${i} is the baseline` })))));
  total();
}

function total() {
  const sum = treatments().reduce((a, t) => a + Number(t.allocationPercent), 0);
  $('allocation-total').textContent = `Allocations add up to ${sum.toFixed(2).replace(/\.?0+$/, '')}% (must be 100).`;
}

function treatments() {
  return [...$('treatments').tBodies[0].rows].filter((r) => r.querySelector('input[type=checkbox]').checked).map((r) => {
    const [, name, pct] = r.querySelectorAll('input');
    return { name: name.value, variation: Number(r.dataset.variation), baseline: r.querySelector('input[type=radio]').checked, allocationPercent: pct.value };
  });
}

function metricRows() {
  $('metric-choice').tBodies[0].replaceChildren(...state.metrics.map((m, i) => el('tr', { dataset: { key: m.key } },
    el('td', {}, el('input', { type: 'checkbox', 'aria-label': `Use metric ${m.key}` })),
    el('td', {}, `${m.name} (${m.key}) · ${m.kind}`),
    el('td', {}, el('input', { type: 'radio', name: 'primary', checked: i === 0, 'aria-label': `${m.key} is the primary metric` })))));
}

async function openEditor() {
  try {
    const [flags, metrics, keys] = await Promise.all([
      api('GET', `/api/v2/flags/${project()}`),
      api('GET', `/api/v2/metrics/${project()}?limit=50&sort=name`),
      api('GET', `/api/v2/projects/${project()}/event-keys?limit=100`).catch(() => ({ items: [] })),
    ]);
    state.flags = flags.items;
    state.metrics = metrics.items;
    const kinds = new Set(['user', ...keys.items.flatMap((k) => k.contextKinds)]);
    $('randomization').replaceChildren(...[...kinds].sort().map((k) => el('option', { value: k, selected: k === 'user' }, k)));
  } catch (e) { announce(e.message, true); return; }
  form.reset();
  state.keyTouched = false;
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  $('flag').replaceChildren(...state.flags.map((f) => el('option', { value: f.key }, `${f.name} (${f.key})`)));
  treatmentRows();
  metricRows();
  $('editor').showModal();
  $('name').focus();
}

async function save(ev) {
  ev.preventDefault();
  const metrics = [...$('metric-choice').tBodies[0].rows].filter((r) => r.querySelector('input[type=checkbox]').checked)
    .map((r) => ({ key: r.dataset.key, primary: r.querySelector('input[type=radio]').checked }));
  const body = { key: $('key').value.trim(), name: $('name').value.trim(), flagKey: $('flag').value,
    randomizationUnit: $('randomization').value, treatments: treatments(), metrics, analysis: $('analysis').value };
  if ($('hypothesis').value.trim()) body.hypothesis = $('hypothesis').value.trim();
  if ($('rule').value) body.ruleId = $('rule').value;
  try {
    const created = await api('POST', envPath(), body);
    $('editor').close();
    announce(`Experiment ${created.key} created. Start it to begin counting.`);
    await loadList();
  } catch (e) {
    fieldError(form, e.field, e.message, $('editor-title').parentElement);
    announce(e.message, true);
  }
}

$('flag').addEventListener('change', treatmentRows);
$('treatments').addEventListener('input', total);
$('name').addEventListener('input', () => {
  if (!state.keyTouched) $('key').value = slug($('name').value);
});
$('key').addEventListener('input', () => { state.keyTouched = true; });
$('create').addEventListener('click', openEditor);
$('cancel').addEventListener('click', () => $('editor').close());
form.addEventListener('submit', save);
for (const id of ['project', 'env']) $(id).addEventListener('change', loadList);
tokenForm(async () => loadList());
