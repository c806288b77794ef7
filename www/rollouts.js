// The guarded-rollouts page: each flag of the environment with its latest guarded rollout; start
// one (rule, test variation, stages, guardrails with their tolerated harm and action); watch one
// live: stage and time in it, units per arm against the stage's minimum, one chart per guardrail
// (the difference over time, its one-sided bound, the threshold), health, the timeline, and the
// buttons a writer may press. It refreshes every two seconds while the rollout is active.
import { $, el, api, announce, actionError, pageHeader, tokenForm, fieldError } from '/app.js';

pageHeader('Guarded rollouts', { environment: true });

const SEMANTIC = 'application/json; domain-model=launchdarkly.semanticpatch';
const DEFAULT_STAGES = [[1, 30, 100], [5, 60, 500], [10, 120, 1000], [25, 240, 2500], [50, 960, 5000]];
const state = { flags: [], metrics: [], flag: null, watching: null, timer: null };
const project = () => encodeURIComponent($('project').value.trim() || 'default');
const envKey = () => $('env').value.trim() || 'production';
const rolloutsPath = (flag) => `/api/v2/projects/${project()}/flags/${encodeURIComponent(flag)}/environments/${encodeURIComponent(envKey())}/measured-rollouts`;
const form = $('rollout-form');
const pct = (w) => `${(w / 1000).toFixed(3).replace(/\.?0+$/, '')}%`;
const when = (ms) => new Date(ms).toLocaleTimeString();

function serving(flag) {
  const ft = flag.environments?.[envKey()]?.fallthrough;
  if (!ft) return 'not configured';
  if (ft.variation !== undefined) return `variation ${ft.variation}`;
  return `rollout of ${ft.rollout.variations.length} slots`;
}

async function loadFlags() {
  try {
    const [flags, metrics] = await Promise.all([api('GET', `/api/v2/flags/${project()}`), api('GET', `/api/v2/metrics/${project()}?limit=50&sort=name`)]);
    state.flags = flags.items;
    state.metrics = metrics.items;
    const rows = await Promise.all(state.flags.map(async (f) => {
      const list = await api('GET', rolloutsPath(f.key)).catch(() => ({ items: [] }));
      const latest = list.items[list.items.length - 1];
      const active = latest && ['monitoring', 'regressed'].includes(latest.status);
      const actions = el('td', {},
        active ? null : el('button', { type: 'button', className: 'writer-only', 'aria-label': `Start a guarded rollout of ${f.key}`, onclick: () => openStart(f) }, 'Start guarded rollout'),
        latest ? el('button', { type: 'button', 'aria-label': `Watch the guarded rollout of ${f.key}`, onclick: () => watch(f.key, latest._id) }, 'Watch') : null);
      return el('tr', { dataset: { key: f.key } }, el('td', {}, `${f.name} (`, el('code', {}, f.key), ')'), el('td', {}, serving(f)),
        el('td', {}, latest ? el('span', { className: `badge ${latest.status}` }, latest.status) : '—'), actions);
    }));
    $('rollout-flags').tBodies[0].replaceChildren(...rows);
    if (!rows.length) announce('No flags in this project yet.');
  } catch (e) { announce(e.message, true); }
}

// ---- starting one ----
function stageRow([percent, minutes, units]) {
  const input = (value, label, step = 'any') => el('td', {}, el('input', { type: 'number', min: '0', step, value, 'aria-label': label }));
  const remove = el('td', {}, el('button', { type: 'button', 'aria-label': 'Remove this stage', onclick: (ev) => ev.target.closest('tr').remove() }, 'Remove'));
  return el('tr', {}, input(percent, 'Test percent'), input(minutes, 'Least minutes'), input(units, 'Units per arm', '1'), remove);
}

function openStart(flag) {
  state.flag = flag;
  form.reset();
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  const config = flag.environments?.[envKey()] ?? {};
  $('start-flag').textContent = `Flag ${flag.name} (${flag.key}) in ${envKey()}`;
  $('rule').replaceChildren(el('option', { value: '' }, 'Default rule (fallthrough)'),
    ...(config.rules ?? []).map((r, i) => el('option', { value: r._id }, `Rule ${i + 1}${r.description ? `: ${r.description}` : ''}`)));
  const control = config.fallthrough?.variation;
  $('control-variation').textContent = control === undefined ? 'The default rule serves a percentage rollout: a guarded rollout starts from one variation.' : `Control: variation ${control} (what the rule serves now).`;
  $('test-variation').replaceChildren(...flag.variations.map((v, i) => el('option', { value: v._id, selected: i !== control && i === (control === 0 ? 1 : 0) }, `${i}: ${v.name ?? JSON.stringify(v.value)}`)));
  $('stages').tBodies[0].replaceChildren(...DEFAULT_STAGES.map(stageRow));
  $('guardrail-choice').tBodies[0].replaceChildren(...state.metrics.filter((m) => m.analysisType !== 'percentile').map((m) => el('tr', { dataset: { key: m.key } },
    el('td', {}, el('input', { type: 'checkbox', 'aria-label': `Guard with ${m.key}` })),
    el('td', {}, `${m.name} (${m.key}) · ${m.successCriteria === 'LowerThanBaseline' ? 'lower is better' : 'higher is better'}`),
    el('td', {}, el('input', { type: 'number', min: '0', step: 'any', value: '0', 'aria-label': `Tolerated harm of ${m.key}` })),
    el('td', {}, el('input', { type: 'checkbox', checked: true, 'aria-label': `Roll back on a regression of ${m.key}` })))));
  $('editor').showModal();
}

function startInstruction() {
  const stages = [...$('stages').tBodies[0].rows].map((r) => {
    const [p, minutes, units] = [...r.querySelectorAll('input')].map((i) => Number(i.value));
    return { rolloutWeight: Math.round(p * 1000), monitoringWindowMilliseconds: Math.round(minutes * 60_000), minUnitsPerArm: units };
  });
  const metrics = [...$('guardrail-choice').tBodies[0].rows].filter((r) => r.querySelector('input[type=checkbox]').checked).map((r) => {
    const inputs = r.querySelectorAll('input');
    return { metricKey: r.dataset.key, regressionThreshold: Number(inputs[1].value), onRegression: { notify: true, rollback: inputs[2].checked } };
  });
  const rule = $('rule').value;
  return { kind: rule ? 'updateRulesWithMeasuredRolloutV2' : 'updateFallthroughWithMeasuredRolloutV2', ...(rule ? { ruleId: rule } : {}),
    testVariationId: $('test-variation').value, randomizationUnit: $('randomization').value.trim() || 'user',
    checkIntervalSeconds: Number($('interval').value), stages, metrics };
}

async function start(ev) {
  ev.preventDefault();
  const flag = state.flag;
  try {
    await api('PATCH', `/api/v2/flags/${project()}/${encodeURIComponent(flag.key)}`, { environmentKey: envKey(), instructions: [startInstruction()] }, SEMANTIC);
    $('editor').close();
    const list = await api('GET', rolloutsPath(flag.key));
    announce(`Guarded rollout of ${flag.key} started.`);
    await loadFlags();
    await watch(flag.key, list.items[list.items.length - 1]._id);
  } catch (e) {
    fieldError(form, /`(?:instructions\[\d+\]\.)?([A-Za-z]+)/.exec(e.message)?.[1], e.message, $('editor-title').parentElement);
    announce(e.message, true);
  }
}

// ---- watching one ----
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** One guardrail's chart: the difference (test − control) over time, its one-sided bound and the
 * threshold the bound must not cross. */
function chart(metric, points, lowerIsBetter) {
  const width = 640;
  const height = 160;
  const series = points.map((p) => ({ at: p.at, m: p.metrics.find((x) => x.metricKey === metric.metricKey) })).filter((p) => p.m && p.m.estimate !== null);
  const threshold = lowerIsBetter ? metric.regressionThreshold : -metric.regressionThreshold;
  const node = svg('svg', { width: '100%', height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${metric.metricKey}: difference over time with its bound and the threshold` });
  if (!series.length) {
    const t = svg('text', { x: 10, y: 20 });
    t.textContent = 'No estimate yet (both arms need units with varying values).';
    node.append(t);
    return node;
  }
  const ys = series.flatMap((p) => [p.m.estimate, p.m.bound]).concat([threshold, 0]);
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  const span = hi - lo || 1;
  const [t0, t1] = [series[0].at, series[series.length - 1].at];
  const x = (at) => 40 + ((at - t0) / ((t1 - t0) || 1)) * (width - 50);
  const y = (v) => 10 + (1 - (v - lo) / span) * (height - 30);
  const line = (pick, cls) => svg('polyline', { class: cls, fill: 'none', points: series.map((p) => `${x(p.at)},${y(pick(p.m))}`).join(' ') });
  node.append(svg('line', { class: 'zero', x1: 40, x2: width - 10, y1: y(0), y2: y(0) }),
    svg('line', { class: 'threshold', x1: 40, x2: width - 10, y1: y(threshold), y2: y(threshold), 'stroke-dasharray': '4 3' }),
    line((m) => m.bound, 'bound'), line((m) => m.estimate, 'estimate'),
    ...series.map((p) => svg('circle', { class: 'estimate', cx: x(p.at), cy: y(p.m.estimate), r: 3 })));
  for (const [v, label] of [[hi, hi.toPrecision(3)], [lo, lo.toPrecision(3)]]) {
    const t = svg('text', { x: 2, y: y(v) + 4 });
    t.textContent = label;
    node.append(t);
  }
  return node;
}

function guardrail(m, points) {
  const metric = state.metrics.find((x) => x.key === m.metricKey);
  const lower = metric?.successCriteria === 'LowerThanBaseline';
  const last = m.last;
  const facts = last ? [
    `Δ ${last.estimate === null ? '—' : last.estimate.toPrecision(3)}`,
    `bound ${last.bound === null ? '—' : last.bound.toPrecision(3)} (${lower ? 'must stay ≤' : 'must stay ≥'} ${lower ? m.regressionThreshold : -m.regressionThreshold})`,
    last.detectableHarm === null ? null : `detects a harm ≥ ${last.detectableHarm.toPrecision(2)}`,
    last.eValue === null ? null : `exact test E = ${last.eValue.toPrecision(3)} / ${last.eThreshold} to roll back`,
    `units ${last.nControl} / ${last.nTest}`,
  ].filter(Boolean).join(' · ') : 'Waiting for the first check.';
  return el('figure', { className: 'card', dataset: { metric: m.metricKey, status: m.status } },
    el('figcaption', {}, el('strong', {}, m.metricKey), ' ', el('span', { className: `badge ${m.status}` }, m.status), el('br'), el('span', { className: 'meta' }, facts)),
    chart(m, points, lower),
    el('p', { className: 'legend meta' }, 'Blue: the difference (test − control) · amber: its one-sided bound · red dashed: the threshold the bound must not cross'));
}

async function refresh() {
  const { flag, id } = state.watching ?? {};
  if (!flag) return;
  try {
    const base = `${rolloutsPath(flag)}/${encodeURIComponent(id)}`;
    const [r, series] = await Promise.all([api('GET', base), api('GET', `${base}/series`)]);
    render(r, series.items);
    const active = ['monitoring', 'regressed'].includes(r.status);
    if (active) state.timer = setTimeout(refresh, 2000);
    // It just ended: the flags' table shows its new status.
    else if (state.wasActive) await loadFlags();
    state.wasActive = active;
  } catch (e) { announce(e.message, true); }
}

function render(r, points) {
  $('watch').hidden = false;
  $('watch-title').textContent = `Guarded rollout of ${r.flagKey}${r.ruleId ? ` (rule ${r.ruleId})` : ''}`;
  $('rollout-status').textContent = r.holdReason ? `${r.status} · held: ${r.holdReason}` : r.status;
  $('rollout-status').className = `badge ${r.status}`;
  const stage = r.stages[r.currentStageIndex];
  const started = stage.startedAt ?? r.startedAt;
  const inStage = Math.round(((r.endedAt ?? Date.now()) - started) / 1000);
  $('rollout-stage').textContent = `Stage ${r.currentStageIndex + 1} of ${r.stages.length}: ${pct(stage.rolloutWeight)} test / ${pct(stage.rolloutWeight)} tracked control · ${inStage} s in stage (at least ${Math.round(stage.monitoringWindowMilliseconds / 1000)} s)`;
  $('rollout-units').textContent = r.units ? `Units: control ${r.units.control}, test ${r.units.test} (${stage.minUnitsPerArm} per arm to advance)` : 'No check yet.';
  const h = r.health;
  $('rollout-health').textContent = h ? `Health: sample ratio ${h.srm ? 'MISMATCH' : 'ok'} (Bayes factor ${h.srmBayesFactor.toPrecision(3)}) · multiple exposures ${(h.multipleExposuresRate * 100).toFixed(2)}% · traffic ${h.noTraffic ? 'none' : 'ok'}${h.dataUnavailable ? ' · counts unavailable' : ''}` : '';
  const back = r.events.findLast((e) => e.kind === 'rolledBack');
  $('rollout-banner').hidden = !back;
  if (back) $('rollout-banner').textContent = back.comment;
  const active = ['monitoring', 'regressed'].includes(r.status);
  for (const b of $('rollout-actions').querySelectorAll('button')) {
    const act = b.dataset.act;
    b.disabled = !active || (act === 'pause' && r.paused) || (act === 'resume' && !r.paused);
  }
  $('guardrails').replaceChildren(...r.metrics.map((m) => guardrail(m, points)));
  $('rollout-events').tBodies[0].replaceChildren(...[...r.events].reverse().map((e) => el('tr', { dataset: { kind: e.kind } },
    el('td', {}, when(e.at)), el('td', {}, e.kind), el('td', {}, String(e.stageIndex + 1)), el('td', {}, e.member ?? 'the Worker'), el('td', {}, e.comment))));
}

async function watch(flag, id) {
  clearTimeout(state.timer);
  state.watching = { flag, id };
  await refresh();
  $('watch').scrollIntoView();
}

async function act(kind, button) {
  const { flag, id } = state.watching;
  try {
    await api('PATCH', `${rolloutsPath(flag)}/${encodeURIComponent(id)}`, { instructions: [{ kind }] }, SEMANTIC);
    announce(`${kind} done.`);
    clearTimeout(state.timer);
    await refresh();
    await loadFlags();
  } catch (e) { actionError(button.parentElement, e.message); }
}

for (const b of $('rollout-actions').querySelectorAll('button')) b.addEventListener('click', () => act(b.dataset.act, b));
$('cancel').addEventListener('click', () => $('editor').close());
form.addEventListener('submit', start);
for (const id of ['project', 'env']) $(id).addEventListener('change', loadFlags);
/** `#flag=key` (the flags page's link): watch that flag's latest rollout once signed in. */
async function fromHash() {
  const key = new URLSearchParams(location.hash.slice(1)).get('flag');
  if (!key) return;
  const list = await api('GET', rolloutsPath(key)).catch(() => ({ items: [] }));
  const latest = list.items[list.items.length - 1];
  if (latest) await watch(key, latest._id);
  else announce(`Flag ${key} has no guarded rollout yet: start one from its row.`);
}

tokenForm(async () => {
  await loadFlags();
  await fromHash();
});
