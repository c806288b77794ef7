// Shrinks the snippet's wasm-bindgen output for the browser, without changing what runs:
// 1. renames the wasm's imports (`./edge-exp_bg.js` / `__wbg_fetch_21015a0a4570ab44`, ~45 bytes
//    each, mostly random hashes that gzip cannot compress) to short names, in the wasm's import
//    section and in the JS glue's import object alike;
// 2. replaces wasm-bindgen's loader (async and sync initialisation, deprecated-argument and MIME
//    warnings) with a smaller one that keeps its default export: `await init()` loads
//    `edge-exp_bg.wasm` next to the glue, or the URL, Response, bytes or module given;
// 3. passes strings to the wasm with `TextEncoder#encode` alone (wasm-bindgen's ASCII loop,
//    `encodeInto` path and its polyfill are for speed on long strings; ours are short);
// 4. minifies the JS glue with esbuild, bundling the crate's `inline_js` helpers into it (same ES
//    module exports but `initSync`).
// Usage: node scripts/shrink-snippet.mjs <dir> <name>   (files <name>.js and <name>_bg.wasm)
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const [dir, name] = process.argv.slice(2);
const wasmPath = join(dir, `${name}_bg.wasm`);
const jsPath = join(dir, `${name}.js`);

// --- wasm binary helpers (https://webassembly.github.io/spec/core/binary/) ---
function readU32(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result >>> 0, pos];
    shift += 7;
  }
}

function u32(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return Buffer.from(out);
}

const vecName = (s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

// Short names: a, b, ..., z, A, ..., Z, aa, ab, ...
function shortName(i) {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let s = '';
  do {
    s = chars[i % chars.length] + s;
    i = Math.floor(i / chars.length) - 1;
  } while (i >= 0);
  return s;
}

// Skip one import description (what is imported), returning the position after it.
function skipImportDesc(buf, pos) {
  const kind = buf[pos++];
  if (kind === 0x00) return readU32(buf, pos)[1]; // function: type index
  if (kind === 0x01) { // table: reftype, limits
    pos += 1;
    const flags = buf[pos++];
    pos = readU32(buf, pos)[1];
    return flags & 1 ? readU32(buf, pos)[1] : pos;
  }
  if (kind === 0x02) { // memory: limits
    const flags = buf[pos++];
    pos = readU32(buf, pos)[1];
    return flags & 1 ? readU32(buf, pos)[1] : pos;
  }
  if (kind === 0x03) return pos + 2; // global: valtype, mutability
  if (kind === 0x04) { pos += 1; return readU32(buf, pos)[1]; } // tag
  throw new Error(`unknown import kind ${kind}`);
}

const wasm = readFileSync(wasmPath);
const renames = new Map(); // old field name -> new
let moduleName = null;
let inlineModule = null; // `./snippets/<crate>/inline0.js`, if the wasm imports from it
const parts = [wasm.subarray(0, 8)];
let pos = 8;
while (pos < wasm.length) {
  const id = wasm[pos];
  const [size, start] = readU32(wasm, pos + 1);
  const end = start + size;
  if (id !== 2) {
    parts.push(wasm.subarray(pos, end));
    pos = end;
    continue;
  }
  let [count, p] = readU32(wasm, start);
  const entries = [u32(count)];
  for (let i = 0; i < count; i++) {
    let len;
    [len, p] = readU32(wasm, p);
    const mod = wasm.subarray(p, p + len).toString();
    p += len;
    [len, p] = readU32(wasm, p);
    const field = wasm.subarray(p, p + len).toString();
    p += len;
    const descStart = p;
    p = skipImportDesc(wasm, p);
    if (mod.startsWith('./snippets/')) {
      // The snippet's own `inline_js` helpers: their names are already short; the module is
      // bundled into the glue below, under the name `n`.
      if (inlineModule !== null && mod !== inlineModule) throw new Error(`second inline module ${mod}`);
      inlineModule = mod;
      entries.push(vecName('n'), vecName(field), wasm.subarray(descStart, p));
      continue;
    }
    if (moduleName !== null && mod !== moduleName) throw new Error(`second import module ${mod}`);
    moduleName = mod;
    if (!renames.has(field)) renames.set(field, shortName(renames.size));
    entries.push(vecName('m'), vecName(renames.get(field)), wasm.subarray(descStart, p));
  }
  const body = Buffer.concat(entries);
  parts.push(Buffer.from([2]), u32(body.length), body);
  pos = end;
}
const newWasm = Buffer.concat(parts);
// The result must still be a valid module with the same import count.
const before = WebAssembly.Module.imports(new WebAssembly.Module(wasm)).length;
const after = WebAssembly.Module.imports(new WebAssembly.Module(newWasm)).length;
if (before !== after) throw new Error('import count changed');

// --- the JS glue: the same renames in its import object ---
let js = readFileSync(jsPath, 'utf8');
const quotedModule = JSON.stringify(moduleName);
if (!js.includes(quotedModule)) throw new Error(`glue does not name module ${moduleName}`);
js = js.split(quotedModule).join('"m"');
if (inlineModule !== null) {
  // Its keys in the import object (`import * as` statements keep the path, for the bundler).
  const key = `${JSON.stringify(inlineModule)}: `;
  if (!js.includes(key)) throw new Error(`glue does not import ${inlineModule}`);
  // The module's functions by name (not \`import * as\`, which a bundler turns into getters).
  const source = readFileSync(join(dir, inlineModule), 'utf8');
  const names = [...source.matchAll(/export function (\w+)/g)].map((m) => m[1]);
  js = js.replace(/^import \* as (\w+) from "(\.\/snippets\/[^"]+)";?$/gm, (line, id, path) => {
    if (path !== inlineModule) throw new Error(`unexpected import ${line}`);
    return `import { ${names.map((n) => `${n} as ${id}_${n}`).join(', ')} } from "${path}";\nconst ${id} = { ${names.map((n) => `${n}: ${id}_${n}`).join(', ')} };`;
  });
  // One key per import of the module (each the same namespace): the first is kept.
  let first = true;
  js = js.split('\n').filter((line) => {
    if (!line.trimStart().startsWith(key)) return true;
    const keep = first;
    first = false;
    return keep;
  }).join('\n').split(key).join('"n": ');
}
for (const [old, short] of renames) {
  const pattern = new RegExp(`\\b${old.replace(/[$]/g, '\\$')}\\b(?=\\s*:)`, 'g');
  const hits = js.match(pattern)?.length ?? 0;
  if (hits !== 1) throw new Error(`import ${old} found ${hits} times in the glue`);
  js = js.replace(pattern, short);
}
/** Replace the top-level block of `js` that starts with `start` (up to its closing `}` line). */
function replaceBlock(js, start, replacement) {
  const at = js.indexOf(start);
  const end = js.indexOf('\n}\n', at);
  if (at < 0 || end < 0) throw new Error(`glue block not found: ${start}`);
  return js.slice(0, at) + replacement + js.slice(end + 3);
}
// `wasm_bindgen::exports()` is the instance's raw exports. Callbacks (`snippet/src/action.rs`)
// bind its `__h`; built without reference types (scripts/build-snippet.sh), a raw export takes
// heap indices, not JavaScript values, so what they must bind is the glue's wrapper of it, which
// puts its arguments in the heap. The snippet reads nothing else from `exports()`.
const exportsName = [...renames].find(([old]) => old.startsWith('__wbg___wbindgen_exports_'))?.[1];
const exportsImport = new RegExp(`(\\b${exportsName}: function\\(\\) \\{\\n\\s*)const ret = wasm;`);
if (exportsName === undefined || !exportsImport.test(js)) throw new Error('glue has no wasm_bindgen::exports() import: check action::callback');
js = js.replace(exportsImport, '$1const ret = { __h };');
// `const ret = f(...); return addHeapObject(ret);` as one return (the same evaluation, ~30 times).
js = js.replace(/const ret = ([^\n]*);\n(\s*)return (addHeapObject|takeObject)\(ret\);/g, '$2return $3($1);');
js = replaceBlock(js, 'function passStringToWasm0(', `function passStringToWasm0(arg, malloc) {
    const buf = cachedTextEncoder.encode(arg);
    const ptr = malloc(buf.length, 1) >>> 0;
    getUint8ArrayMemory0().set(buf, ptr);
    WASM_VECTOR_LEN = buf.length;
    return ptr;
}
`);
js = replaceBlock(js, "if (!('encodeInto' in cachedTextEncoder)) {", '');
// A memory view is stale once the memory grew (its buffer is then another object).
js = replaceBlock(js, 'function getDataViewMemory0(', `function getDataViewMemory0() {
    if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer !== wasm.memory.buffer) {
        cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
    }
    return cachedDataViewMemory0;
}
`);
// wasm-bindgen renews its TextDecoder every 2 GB decoded (Safari's stops there); the snippet's
// strings are property names and short values, a page never decodes that much through it.
js = replaceBlock(js, 'function decodeText(', `function decodeText(bytes) {
    return cachedTextDecoder.decode(bytes);
}
`);

// The loader: everything from wasm-bindgen's `__wbg_load` to the end of the module.
const loaderStart = js.indexOf('async function __wbg_load(');
const loaderEnd = 'export { initSync, __wbg_init as default };';
if (loaderStart < 0 || !js.trimEnd().endsWith(loaderEnd)) throw new Error('wasm-bindgen loader not found: check the glue of this wasm-bindgen version');
js = js.slice(0, loaderStart) + `
let __wbg_init_promise;
function __wbg_init(input) {
    return __wbg_init_promise ??= (async () => {
        input = await (input?.module_or_path ?? input ?? new URL('${name}_bg.wasm', import.meta.url));
        if (typeof input === 'string' || input instanceof URL || input instanceof Request) input = await fetch(input);
        const imports = __wbg_get_imports();
        const loaded = input instanceof Response
            // A server that does not send application/wasm: compile from the bytes instead.
            ? await WebAssembly.instantiateStreaming(input.clone(), imports)
                .catch(async () => WebAssembly.instantiate(await input.arrayBuffer(), imports))
            : await WebAssembly.instantiate(input, imports);
        return loaded instanceof WebAssembly.Instance
            ? __wbg_finalize_init(loaded, input)
            : __wbg_finalize_init(loaded.instance, loaded.module);
    })().catch((e) => { __wbg_init_promise = undefined; throw e; });
}
export { __wbg_init as default };
`;
// Minified, with the inline helpers bundled in (one file for the page to load).
const minified = buildSync({
  stdin: { contents: js, resolveDir: dir, sourcefile: `${name}.js` },
  bundle: true, minify: true, format: 'esm', target: 'es2020', write: false,
}).outputFiles[0].text;
rmSync(join(dir, 'snippets'), { recursive: true, force: true });

writeFileSync(wasmPath, newWasm);
writeFileSync(jsPath, minified);
console.log(`shrunk: ${renames.size} imports renamed; wasm ${wasm.length} -> ${newWasm.length} bytes, JS ${Buffer.byteLength(readFileSync(jsPath))} bytes`);
