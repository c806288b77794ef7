// Fails when a crate's modules import each other in a cycle (`a` uses `crate::b` and `b`, perhaps
// through others, uses `crate::a`). Run by `npm test` over the snippet, where the module layout is
// a stated invariant (ARCHITECTURE.md): leaf modules for actions, batches and fetches.
// Usage: node scripts/module-cycles.mjs <src dir>...
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function rustFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? rustFiles(path) : name.endsWith('.rs') ? [path] : [];
  });
}

// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; top modules are what cycles are about.
function topModule(root, file) {
  const first = relative(root, file).split('/')[0].replace(/\.rs$/, '');
  return first === 'lib' || first === 'main' ? null : first;
}

function edges(root) {
  const graph = new Map();
  for (const file of rustFiles(root)) {
    const from = topModule(root, file);
    if (!from || from === 'tests') continue;
    const text = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '');
    const used = new Set();
    for (const m of text.matchAll(/crate::(\{[^}]*\}|\w+)/g)) {
      for (const name of m[1].replace(/[{}]/g, '').split(',')) {
        const top = name.trim().split('::')[0];
        if (top && top !== from && top !== 'self') used.add(top);
      }
    }
    graph.set(from, new Set([...(graph.get(from) ?? []), ...used]));
  }
  return graph;
}

function findCycle(graph) {
  const state = new Map(); // 1: on the path, 2: done
  const path = [];
  const visit = (node) => {
    state.set(node, 1);
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 1) return [...path.slice(path.indexOf(next)), next];
      if (!state.get(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 2);
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.get(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

let failed = false;
for (const root of process.argv.slice(2)) {
  const cycle = findCycle(edges(root));
  if (cycle) {
    console.error(`${root}: modules import each other in a cycle: ${cycle.join(' → ')}`);
    failed = true;
  } else {
    console.log(`${root}: no module import cycles`);
  }
}
process.exit(failed ? 1 : 0);
