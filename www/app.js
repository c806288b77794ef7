// Shared by the management pages (metrics, flags, experiments, live events): the API token, calls to
// this origin's REST API, small DOM helpers and an announcer for screen readers.
//
// The token is typed by the user, kept in this tab's sessionStorage (never in a URL, never
// logged) and sent only to this origin (every call is a relative URL).

const TOKEN_KEY = 'edge-exp-token';

export const $ = (id) => document.getElementById(id);

/** An element: `el('td', {className: 'x'}, 'text', child)`. Text is always set as text. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'for') node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** Say `text` to screen readers (and show it in the page's status line). */
export function announce(text, error = false) {
  const live = $('status-line');
  if (!live) return;
  live.textContent = text;
  live.className = error ? 'error' : 'meta';
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
  /** The field an error message names first (`\`eventKey\` is required` → eventKey). */
  get field() {
    return /`([A-Za-z_]+)/.exec(this.message)?.[1] ?? null;
  }
}

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  role: null,
};

/** Call the REST API of this origin. JSON in and out; errors as ApiError. */
export async function api(method, path, body, contentType = 'application/json') {
  const headers = { Authorization: session.token };
  if (body !== undefined) headers['Content-Type'] = contentType;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

/** Check the token and learn its role: listing tokens needs a writer, anything a reader. */
export async function signIn(token) {
  session.token = token.trim();
  try {
    await api('GET', '/api/v2/tokens');
    session.role = 'writer';
  } catch (e) {
    if (e.status !== 403) { session.role = null; throw e; }
    session.role = 'reader';
  }
  sessionStorage.setItem(TOKEN_KEY, session.token);
  document.body.dataset.role = session.role;
  return session.role;
}

const PAGES = [['/dashboard.html', 'Results'], ['/metrics.html', 'Metrics'], ['/flags.html', 'Flags'], ['/experiments.html', 'Experiments'],
  ['/rollouts.html', 'Guarded rollouts'], ['/live.html', 'Live events'], ['/', 'Demo shop']];

/** Is `href` this page? (Static assets are served without `.html` too.) */
const same = (href) => href.replace(/\.html$/, '') === location.pathname.replace(/\.html$/, '');

/** The pages' common header: title, navigation, token form, project (and environment) fields. */
export function pageHeader(title, { environment = false } = {}) {
  const field = (id, label, value) => el('label', { for: id }, label, ' ', el('input', { id, value }));
  const nav = el('nav', { 'aria-label': 'Pages' }, PAGES.map(([href, name]) =>
    el('a', { href, ...(same(href) ? { 'aria-current': 'page' } : {}) }, name)));
  const form = el('form', { id: 'token-form', className: 'bar', autocomplete: 'off' },
    el('label', { for: 'token' }, 'API access token ', el('input', { id: 'token', type: 'password', placeholder: 'api-…' })),
    el('button', { type: 'submit' }, 'Use token'), el('span', { id: 'role', className: 'meta' }));
  document.querySelector('header').replaceChildren(el('h1', {}, title), nav, form, field('project', 'Project', 'default'),
    environment ? field('env', 'Environment', 'production') : null);
}

/** Wire the header's token form; `ready(role)` runs once a token is accepted. */
export function tokenForm(ready) {
  const form = $('token-form');
  const input = $('token');
  input.value = session.token;
  const go = async () => {
    try {
      const role = await signIn(input.value);
      $('role').textContent = role === 'writer' ? 'writer: can edit' : 'reader: read-only';
      announce(`Signed in as ${role}.`);
      await ready(role);
    } catch (e) {
      $('role').textContent = '';
      announce(e.message, true);
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); go(); });
  if (session.token) go();
}

/** A resource key from a name: lower case, runs of other characters become `-`. */
export const slug = (name) => name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');

/** Show an action's error in its table cell (replacing an earlier one) and announce it. */
export function actionError(cell, message) {
  cell.querySelector('.field-error')?.remove();
  cell.append(el('p', { className: 'field-error error', role: 'alert' }, message));
  announce(message, true);
}

/** Show `message` next to the form control for `field` (a field name or the control itself; else
 * in `fallback`), and focus it. */
export function fieldError(form, field, message, fallback) {
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  for (const bad of form.querySelectorAll('[aria-invalid]')) bad.removeAttribute('aria-invalid');
  const control = field instanceof Element ? field : field && form.querySelector(`[data-field="${field}"]`);
  const note = el('p', { className: 'field-error error', role: 'alert' }, message);
  if (control && control.offsetParent !== null) {
    control.setAttribute('aria-invalid', 'true');
    note.id = `${control.id || field}-error`;
    control.setAttribute('aria-describedby', note.id);
    (control.closest('label, fieldset') ?? control).after(note);
    control.focus();
  } else {
    (fallback ?? form).prepend(note);
  }
}
