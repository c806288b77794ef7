// Builds the static pages: www/pages/<name>.html → www/<name>.html (served by the platform's
// asset handler; generated, not committed). Every page shares one document head, and pages of one
// kind share a layout, so a change to either is made once.
//
// A page file starts with a front-matter comment naming its layout and the values the layout
// uses, e.g. `<!-- layout: app | title: Metrics · edge-exp | script: /metrics.js -->`. What follows
// is split at an optional `<!-- body -->` line: above it, lines for the page's <head>; below it
// (or all of it), the page's content. A layout (www/pages/layouts/<name>.html) is split the same
// way; its body holds `{{content}}` where the page goes. `{{name}}` is any front-matter value.
//
// A block `<!-- use NAME: name: value | ... -->` … `<!-- /use -->` in a page is replaced by the
// partial www/pages/partials/NAME.html, filled with the block's values and its lines as
// `{{content}}` (e.g. the create/edit dialog the management pages share).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './wrangler-dev.mjs';

const PAGES = join(ROOT, 'www', 'pages');
const OUT = join(ROOT, 'www');

/** `{ head, body }` of a page or layout file (its front matter already removed). */
function sections(text) {
  const at = text.indexOf('<!-- body -->\n');
  return at < 0
    ? { head: '', body: text }
    : { head: text.slice(0, at), body: text.slice(at + '<!-- body -->\n'.length) };
}

/** `name: value | name: value` as an object. */
function pairs(file, text) {
  return Object.fromEntries(text.split(' | ').map((pair) => {
    const at = pair.indexOf(': ');
    if (at < 0) throw new Error(`${file}: "${pair}" is not "name: value"`);
    return [pair.slice(0, at), pair.slice(at + 2)];
  }));
}

/** The front matter's values and the text after it. */
function frontMatter(file, text) {
  const m = /^<!-- (.*) -->\n/.exec(text);
  if (!m) throw new Error(`${file}: the first line must be a front-matter comment`);
  const values = pairs(file, m[1]);
  if (!values.layout || !values.title) throw new Error(`${file}: front matter needs layout and title`);
  return { values, rest: text.slice(m[0].length) };
}

/** Replace each `{{name}}`; a name without a value is an error, not an empty string. A
 * placeholder alone on its line with an empty value takes the line with it. */
function fill(file, text, values) {
  const value = (name) => {
    if (!(name in values)) throw new Error(`${file}: no value for {{${name}}}`);
    return values[name];
  };
  return text
    .replace(/^\{\{([a-z]+)\}\}\n/gm, (_, name) => (value(name) ? `${value(name)}\n` : ''))
    .replace(/\{\{([a-z]+)\}\}/g, (_, name) => value(name));
}

const read = (...parts) => readFileSync(join(PAGES, ...parts), 'utf8');

/** Each `<!-- use NAME: values -->` … `<!-- /use -->` block replaced by its filled partial. */
function expandPartials(file, text) {
  const block = /^<!-- use ([a-z-]+): (.*) -->\n([\s\S]*?)^<!-- \/use -->\n/gm;
  return text.replace(block, (_, name, values, content) =>
    fill(file, read('partials', `${name}.html`), { ...pairs(file, values), content: content.trimEnd() }));
}
const document = read('layouts', 'document.html');
mkdirSync(OUT, { recursive: true });
const built = [];
for (const name of readdirSync(PAGES).filter((f) => f.endsWith('.html')).sort()) {
  const source = `www/pages/${name}`;
  const { values, rest } = frontMatter(source, read(name));
  const page = sections(expandPartials(source, rest));
  const layout = sections(read('layouts', `${values.layout}.html`));
  const body = fill(source, layout.body, { ...values, content: page.body.trimEnd() });
  const head = fill(source, layout.head, values) + page.head;
  const html = fill(source, document, { ...values, source, head: head.trimEnd(), body: body.trimEnd() });
  writeFileSync(join(OUT, name), html);
  built.push(name);
}
console.log(`pages: ${built.join(', ')}`);
