// Server-sent event streams for the tests: the Worker's browser streams (`/eval`, `/ping`).
import assert from 'node:assert/strict';

/** An open stream at `url`: `next()` is its next event ({event, data}), comments skipped. */
export async function openStream(url, init = {}) {
  const controller = new AbortController();
  const r = await fetch(url, { ...init, signal: controller.signal });
  assert.equal(r.status, 200, await (r.status === 200 ? '' : r.text()));
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events = [];
  async function next(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!events.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event on ${url} within ${timeoutMs} ms`);
      const read = await Promise.race([reader.read(), new Promise((res) => setTimeout(() => res({ timeout: true }), left))]);
      if (read.timeout) continue;
      if (read.done) throw new Error(`${url} ended`);
      buffer += decoder.decode(read.value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
        if (event) events.push({ event, data: data ? JSON.parse(data) : null });
      }
    }
    return events.shift();
  }
  return { next, close: () => controller.abort(), headers: r.headers };
}
