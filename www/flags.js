// The flags page: the project's flags with their serving state in the chosen environment (turned
// on or off with LaunchDarkly's semantic patch), each flag's targeting there (on/off, off variation,
// default rule, prerequisites, individual targets, rules of clauses with operator and segment
// pickers), and the environment's segments (included and excluded keys, rules with weights).
// A save is one JSON Patch of what the dialog shows; the API's message is shown next to the field
// it names. Reader tokens see everything read-only.
import { $, el, api, announce, actionError, pageHeader, slug, tokenForm, session } from '/app.js';

pageHeader('Flags and segments', { environment: true });

const OPS = ['in', 'startsWith', 'endsWith', 'contains', 'matches', 'lessThan', 'lessThanOrEqual', 'greaterThan',
  'greaterThanOrEqual', 'before', 'after', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan', 'segmentMatch'];
const NUMERIC = new Set(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual', 'before', 'after']);
const SEMANTIC = 'application/json; domain-model=launchdarkly.semanticpatch';
const state = { flags: [], segments: [], flag: null, segment: null };
const project = () => encodeURIComponent($('project').value.trim() || 'default');
const envKey = () => $('env').value.trim() || 'production';
const flagsPath = () => `/api/v2/flags/${project()}`;
const segmentsPath = () => `/api/v2/segments/${project()}/${encodeURIComponent(envKey())}`;
const writer = () => session.role === 'writer';
const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);

// ---- the lists ----
function flagRow(f) {
  const config = f.environments?.[envKey()];
  const cell = el('td', {});
  const toggle = el('button', { type: 'button', className: 'writer-only', 'aria-label': `Turn ${f.key} ${config?.on ? 'off' : 'on'}`,
    onclick: () => turn(f, !config?.on, cell) }, config?.on ? 'Turn off' : 'Turn on');
  cell.append(toggle, ' ', el('button', { type: 'button', onclick: () => openFlag(f), 'aria-label': `Targeting of ${f.key}` }, writer() ? 'Edit targeting' : 'View targeting'),
    ' ', el('a', { href: `/rollouts.html#flag=${encodeURIComponent(f.key)}`, 'aria-label': `Guarded rollouts of ${f.key}` }, 'Guarded rollout'));
  return el('tr', { dataset: { key: f.key } }, el('td', {}, f.name), el('td', {}, el('code', {}, f.key)),
    el('td', {}, el('span', { className: `badge ${config?.on ? 'running' : ''}` }, config?.on ? 'on' : 'off')),
    el('td', {}, String(config?.rules?.length ?? 0)), cell);
}

function segmentRow(s) {
  const cell = el('td', {});
  cell.append(el('button', { type: 'button', onclick: () => openSegment(s), 'aria-label': `Segment ${s.key}` }, writer() ? 'Edit' : 'View'), ' ',
    el('button', { type: 'button', className: 'writer-only danger', onclick: () => removeSegment(s, cell), 'aria-label': `Delete segment ${s.key}` }, 'Delete'));
  return el('tr', { dataset: { key: s.key } }, el('td', {}, s.name), el('td', {}, el('code', {}, s.key)),
    el('td', {}, String(s.included.length + s.includedContexts.reduce((n, t) => n + t.values.length, 0))),
    el('td', {}, String(s.excluded.length + s.excludedContexts.reduce((n, t) => n + t.values.length, 0))),
    el('td', {}, String(s.rules.length)), cell);
}

async function load() {
  try {
    const [flags, segments] = await Promise.all([api('GET', flagsPath()), api('GET', segmentsPath())]);
    state.flags = flags.items;
    state.segments = segments.items;
    $('flags').tBodies[0].replaceChildren(...state.flags.map(flagRow));
    $('segments').tBodies[0].replaceChildren(...state.segments.map(segmentRow));
  } catch (e) { announce(e.message, true); }
}

async function turn(f, on, cell) {
  try {
    await api('PATCH', `${flagsPath()}/${encodeURIComponent(f.key)}`, { environmentKey: envKey(), instructions: [{ kind: on ? 'turnFlagOn' : 'turnFlagOff' }] }, SEMANTIC);
    announce(`${f.key} is ${on ? 'on' : 'off'} in ${envKey()}.`);
    await load();
  } catch (e) { actionError(cell, e.message); }
}

async function removeSegment(s, cell) {
  try {
    await api('DELETE', `${segmentsPath()}/${encodeURIComponent(s.key)}`);
    announce(`Segment ${s.key} deleted.`);
    await load();
  } catch (e) { actionError(cell, e.message); }
}

// ---- rules and clauses, shared by both dialogs ----
function valuesText(values) {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

function clauseRow(c = { contextKind: 'user', attribute: '', op: 'in', values: [], negate: false }) {
  const op = el('select', { 'aria-label': 'Operator', dataset: { part: 'op' } }, OPS.map((o) => el('option', { value: o, selected: o === c.op }, o)));
  const values = el('input', { value: valuesText(c.values), 'aria-label': 'Values, comma separated', dataset: { part: 'values' } });
  const segment = el('select', { 'aria-label': 'Segment', dataset: { part: 'segment' } },
    state.segments.map((s) => el('option', { value: s.key, selected: c.values.includes(s.key) }, s.name)));
  const row = el('tr', { dataset: { id: c._id ?? '' } },
    el('td', {}, el('input', { value: c.contextKind ?? 'user', 'aria-label': 'Context kind', dataset: { part: 'contextKind' } })),
    el('td', {}, el('input', { value: c.attribute, 'aria-label': 'Attribute', dataset: { part: 'attribute' } })),
    el('td', {}, el('label', { className: 'choices' }, el('input', { type: 'checkbox', checked: c.negate, dataset: { part: 'negate' } }), 'not')),
    el('td', {}, op), el('td', {}, values, segment),
    el('td', {}, el('button', { type: 'button', className: 'writer-only', onclick: () => row.remove(), 'aria-label': 'Remove clause' }, 'Remove')));
  const picker = () => { segment.hidden = op.value !== 'segmentMatch'; values.hidden = !segment.hidden; };
  op.addEventListener('change', picker);
  picker();
  return row;
}

function readClause(row) {
  const part = (name) => row.querySelector(`[data-part="${name}"]`);
  const op = part('op').value;
  const raw = op === 'segmentMatch' ? [part('segment').value] : part('values').value.split(',').map((s) => s.trim()).filter(Boolean);
  const values = raw.map((v) => (NUMERIC.has(op) && v !== '' && Number.isFinite(Number(v)) ? Number(v) : v));
  const clause = { contextKind: part('contextKind').value.trim() || 'user', attribute: op === 'segmentMatch' ? 'segmentMatch' : part('attribute').value.trim(),
    op, values, negate: part('negate').checked };
  if (row.dataset.id) clause._id = row.dataset.id;
  return clause;
}

/** One rule's box: description, clauses, and what it does (`serve`: the flag's variation
 * picker, or null for a segment rule's weight). */
function ruleBox(rule, serve) {
  const body = el('tbody', {}, (rule.clauses ?? []).map(clauseRow));
  const box = el('fieldset', { className: 'rule', dataset: { id: rule._id ?? '' } },
    el('legend', {}, 'Rule'),
    el('label', {}, 'Description ', el('input', { value: rule.description ?? '', dataset: { part: 'description' } })),
    el('table', {}, el('thead', {}, el('tr', {}, ['Kind', 'Attribute', '', 'Operator', 'Values', ''].map((h) => el('th', {}, h)))), body),
    el('button', { type: 'button', className: 'writer-only', onclick: () => body.append(clauseRow()) }, 'Add clause'),
    serve ? serve(rule) : el('label', {}, 'Weight (of 100000; empty: everyone matching) ',
      el('input', { type: 'number', min: '0', max: '100000', value: rule.weight ?? '', dataset: { part: 'weight' } })),
    el('button', { type: 'button', className: 'writer-only danger', onclick: () => box.remove() }, 'Remove rule'));
  return box;
}

/** A rule box's rule; its `_id` kept, so the server keeps it stable. */
function readRule(box, read) {
  const rule = { clauses: [...box.querySelectorAll('tbody tr')].map(readClause) };
  if (box.dataset.id) rule._id = box.dataset.id;
  const description = box.querySelector('[data-part="description"]').value.trim();
  if (description) rule.description = description;
  return read(box, rule);
}

/** Name every control by the API's path of the field it edits (rules by their place now). */
function numberPaths(container) {
  [...container.querySelectorAll('fieldset.rule')].forEach((box, i) => {
    box.dataset.path = `rules[${i}]`;
    [...box.querySelectorAll('tbody tr')].forEach((row, j) => {
      for (const control of row.querySelectorAll('[data-part]')) control.dataset.path = `rules[${i}].clauses[${j}].${control.dataset.part === 'segment' ? 'values' : control.dataset.part}`;
    });
    for (const control of box.querySelectorAll(':scope > label [data-part], :scope > [data-part]')) control.dataset.path = `rules[${i}].${control.dataset.part}`;
  });
}

/** The API's message next to the field it names (`environments.production.rules[0].clauses[1]`.values → that input). */
function showError(form, message) {
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  for (const bad of form.querySelectorAll('[aria-invalid]')) bad.removeAttribute('aria-invalid');
  const m = /`([^`]+)`(\.[A-Za-z]+)?/.exec(message);
  let path = m ? `${m[1]}${m[2] ?? ''}`.replace(/^environments\.[^.]+\./, '') : '';
  // The control of the path, else of the nearest enclosing path (`rules[0].clauses[1]` → `rules[0]`).
  const enclosing = (p) => { const q = p.replace(/(\.[A-Za-z]+|\[\d+\])$/, ''); return q === p ? '' : q; };
  let target = null;
  while (path && !(target = form.querySelector(`[data-path="${CSS.escape(path)}"]`))) path = enclosing(path);
  const note = el('p', { className: 'field-error error', role: 'alert' }, message);
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    (target.closest('label, td') ?? target).after(note);
    if (target.focus) target.focus();
  } else {
    form.prepend(note);
  }
  announce(message, true);
}

// ---- the flag's targeting ----
function variationOptions(select, flag, chosen) {
  select.replaceChildren(...flag.variations.map((v, i) => el('option', { value: String(i), selected: i === chosen }, `${i}: ${v.name ?? JSON.stringify(v.value)}`)));
}

function serveVariation(flag) {
  return (rule) => {
    const select = el('select', { 'aria-label': 'Serves', dataset: { part: 'variation' } });
    variationOptions(select, flag, rule.variation ?? 0);
    if (rule.rollout) select.prepend(el('option', { value: 'rollout', selected: true }, 'its rollout, as set by the API'));
    return el('label', {}, 'Serves ', select);
  };
}

function prerequisiteRow(p = { key: '', variation: 0 }) {
  const row = el('div', { className: 'bar prerequisite' },
    el('label', {}, 'Flag ', el('select', { dataset: { part: 'key' } }, state.flags.filter((f) => f.key !== state.flag.key)
      .map((f) => el('option', { value: f.key, selected: f.key === p.key }, f.key)))),
    el('label', {}, 'must serve variation ', el('input', { type: 'number', min: '0', value: p.variation, dataset: { part: 'variation' } })),
    el('button', { type: 'button', className: 'writer-only', onclick: () => row.remove() }, 'Remove'));
  return row;
}

function openFlag(flag) {
  state.flag = flag;
  const config = flag.environments?.[envKey()] ?? { on: false, offVariation: 0, fallthrough: { variation: 0 } };
  state.config = config;
  $('flag-editor-title').textContent = `${flag.name} in ${envKey()}`;
  $('flag-on').checked = config.on;
  variationOptions($('off-variation'), flag, config.offVariation ?? 0);
  variationOptions($('fallthrough'), flag, config.fallthrough?.variation ?? 0);
  if (config.fallthrough?.rollout) $('fallthrough').prepend(el('option', { value: 'rollout', selected: true }, 'its rollout, as set by the API'));
  $('prerequisites').replaceChildren(...(config.prerequisites ?? []).map(prerequisiteRow));
  $('targets').replaceChildren(...flag.variations.map((v, i) => el('label', {}, `Serve ${i}: ${v.name ?? JSON.stringify(v.value)}`,
    el('textarea', { rows: 2, dataset: { variation: i, path: 'targets' }, value: (config.targets ?? []).filter((t) => t.variation === i).flatMap((t) => t.values).join('\n') }))));
  $('rules').replaceChildren(...(config.rules ?? []).map((r) => ruleBox(r, serveVariation(flag))));
  $('flag-fields').disabled = !writer();
  for (const old of $('flag-form').querySelectorAll('.field-error')) old.remove();
  $('flag-editor').showModal();
}

/** The environment's targeting as the dialog shows it (fields the dialog does not edit kept). */
function readFlagConfig() {
  numberPaths($('rules'));
  const keep = (chosen, current) => (chosen === 'rollout' ? current : { variation: Number(chosen) });
  const targets = [...$('targets').querySelectorAll('textarea')].map((t) => ({ variation: Number(t.dataset.variation), contextKind: 'user', values: lines(t.value) }))
    .filter((t) => t.values.length);
  const rules = [...$('rules').querySelectorAll('fieldset.rule')].map((box, i) => readRule(box, (b, rule) => {
    const chosen = b.querySelector('[data-part="variation"]').value;
    const before = state.config.rules?.find((r) => r._id === rule._id);
    return { ...rule, ...keep(chosen, { rollout: before?.rollout }), trackEvents: before?.trackEvents ?? false };
  }));
  const prerequisites = [...$('prerequisites').querySelectorAll('.prerequisite')].map((row) => ({
    key: row.querySelector('[data-part="key"]').value, variation: Number(row.querySelector('[data-part="variation"]').value) }));
  return { ...state.config, on: $('flag-on').checked, offVariation: Number($('off-variation').value),
    fallthrough: keep($('fallthrough').value, state.config.fallthrough), prerequisites, targets, rules };
}

async function saveFlag(ev) {
  ev.preventDefault();
  const flag = state.flag;
  const patch = [{ op: 'test', path: '/_version', value: flag._version },
    { op: 'add', path: `/environments/${envKey().replace(/~/g, '~0').replace(/\//g, '~1')}`, value: readFlagConfig() }];
  try {
    await api('PATCH', `${flagsPath()}/${encodeURIComponent(flag.key)}`, patch);
    $('flag-editor').close();
    announce(`Targeting of ${flag.key} in ${envKey()} saved.`);
    await load();
  } catch (e) { showError($('flag-form'), e.message); }
}

// ---- segments ----
function openSegment(segment) {
  state.segment = segment;
  $('segment-editor-title').textContent = segment ? `Segment ${segment.name}` : 'Create segment';
  $('segment-name').value = segment?.name ?? '';
  $('segment-key').value = segment?.key ?? '';
  $('segment-key').disabled = Boolean(segment);
  $('segment-included').value = (segment?.included ?? []).join('\n');
  $('segment-excluded').value = (segment?.excluded ?? []).join('\n');
  $('segment-rules').replaceChildren(...(segment?.rules ?? []).map((r) => ruleBox(r, null)));
  $('segment-fields').disabled = !writer();
  for (const old of $('segment-form').querySelectorAll('.field-error')) old.remove();
  $('segment-editor').showModal();
}

function readSegment() {
  numberPaths($('segment-rules'));
  const rules = [...$('segment-rules').querySelectorAll('fieldset.rule')].map((box) => readRule(box, (b, rule) => {
    const weight = b.querySelector('[data-part="weight"]').value;
    return weight === '' ? rule : { ...rule, weight: Number(weight) };
  }));
  return { name: $('segment-name').value.trim(), included: lines($('segment-included').value), excluded: lines($('segment-excluded').value), rules };
}

async function saveSegment(ev) {
  ev.preventDefault();
  const body = readSegment();
  try {
    if (state.segment) {
      const patch = Object.entries(body).map(([field, value]) => ({ op: 'replace', path: `/${field}`, value }));
      await api('PATCH', `${segmentsPath()}/${encodeURIComponent(state.segment.key)}`, patch);
    } else {
      await api('POST', segmentsPath(), { key: $('segment-key').value.trim(), ...body });
    }
    $('segment-editor').close();
    announce(`Segment ${state.segment?.key ?? $('segment-key').value.trim()} saved.`);
    await load();
  } catch (e) { showError($('segment-form'), e.message); }
}

$('add-rule').addEventListener('click', () => $('rules').append(ruleBox({ clauses: [{ contextKind: 'user', attribute: '', op: 'in', values: [], negate: false }], variation: 0 }, serveVariation(state.flag))));
$('add-prerequisite').addEventListener('click', () => $('prerequisites').append(prerequisiteRow()));
$('add-segment-rule').addEventListener('click', () => $('segment-rules').append(ruleBox({ clauses: [{ contextKind: 'user', attribute: '', op: 'in', values: [], negate: false }] }, null)));
$('create-segment').addEventListener('click', () => openSegment(null));
$('segment-name').addEventListener('input', () => { if (!state.segment) $('segment-key').value = slug($('segment-name').value); });
$('flag-form').addEventListener('submit', saveFlag);
$('segment-form').addEventListener('submit', saveSegment);
$('cancel-flag').addEventListener('click', () => $('flag-editor').close());
$('cancel-segment').addEventListener('click', () => $('segment-editor').close());
for (const id of ['project', 'env']) $(id).addEventListener('change', load);
tokenForm(async () => load());
