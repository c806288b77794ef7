// The platform's practical ceiling for the events route: parse the JSON payload and do one KV
// read per event, nothing else. Compared against the real Worker by bench/run.sh.
export default {
  async fetch(request, env) {
    const events = JSON.parse(await request.text());
    await Promise.all(events.map((e) => env.KV.get(`x:${e.key}:${e.contextKeys?.user ?? e.context?.key ?? ''}`)));
    return new Response(JSON.stringify({ accepted: events.length, rejected: [] }), {
      status: 202, headers: { 'Content-Type': 'application/json' },
    });
  },
};
