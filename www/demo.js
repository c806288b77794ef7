// The demo pages' bootstrap: load the snippet from this origin and start it for an anonymous
// visitor of the seed environment (its public client-side ID comes from /demo/config.json).
import initWasm, * as edge from '/snippet/edge-exp.js';

export async function start() {
  const { clientSideId } = await (await fetch('/demo/config.json')).json();
  await initWasm();
  window.edge = edge;
  await edge.init(clientSideId, { kind: 'user', anonymous: true }, { flushInterval: 2000 });
  return edge;
}
