// Does a JSON value conform to a component schema of the served OpenAPI document? The same rules
// as core's native check (`core/src/openapi/tests.rs`), for what only the Worker writes: a wrong
// type, a missing required field, or a field the schema does not declare is an error.

const resolve = (doc, ref) => doc.components.schemas[ref.replace('#/components/schemas/', '')];

function typeFits(type, v) {
  switch (type) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number';
    case 'string': return typeof v === 'string';
    case 'array': return Array.isArray(v);
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    default: return false;
  }
}

/** Every property a schema declares, through `$ref` and `allOf`. */
function declared(doc, s) {
  if (s.$ref) return declared(doc, resolve(doc, s.$ref));
  const own = Object.keys(s.properties ?? {});
  return [...own, ...(s.allOf ?? []).flatMap((p) => declared(doc, p))];
}

function check(doc, s, v, at, strict, errors) {
  if (s.$ref) {
    const target = resolve(doc, s.$ref);
    if (!target) errors.push(`${at}: dangling ${s.$ref}`);
    else check(doc, target, v, at, strict, errors);
    return;
  }
  if (s.oneOf) {
    const fits = s.oneOf.some((variant) => { const e = []; check(doc, variant, v, at, strict, e); return e.length === 0; });
    if (!fits) errors.push(`${at}: fits none of oneOf: ${JSON.stringify(v)}`);
    return;
  }
  if (s.allOf) {
    s.allOf.forEach((p) => check(doc, p, v, at, false, errors));
    if (strict && typeFits('object', v)) {
      const known = new Set(declared(doc, s));
      for (const k of Object.keys(v)) if (!known.has(k)) errors.push(`${at}.${k}: not in the schema`);
    }
    return;
  }
  const types = s.type === undefined ? [] : [s.type].flat();
  if (types.length && !types.some((t) => typeFits(t, v))) errors.push(`${at}: ${JSON.stringify(v)} is not ${types}`);
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) errors.push(`${at}: ${JSON.stringify(v)} not in ${s.enum}`);
  if (s.items && Array.isArray(v)) v.forEach((x, i) => check(doc, s.items, x, `${at}[${i}]`, true, errors));
  if (!typeFits('object', v)) return;
  for (const r of s.required ?? []) if (!(r in v)) errors.push(`${at}.${r}: required, missing`);
  for (const [k, x] of Object.entries(v)) {
    const p = s.properties?.[k];
    if (p) check(doc, p, x, `${at}.${k}`, true, errors);
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') check(doc, s.additionalProperties, x, `${at}.${k}`, true, errors);
    else if (strict && s.properties) errors.push(`${at}.${k}: not in the schema`);
  }
}

/** The errors of `value` against the schema of `response` (a status of an operation). */
export function conformance(doc, schema, value) {
  const errors = [];
  check(doc, schema, value, 'body', true, errors);
  return errors;
}

/** The schema of an operation's response with this status. */
export function responseSchema(doc, path, method, status) {
  const op = doc.paths[path]?.[method];
  return op?.responses?.[String(status)]?.content?.['application/json']?.schema;
}
