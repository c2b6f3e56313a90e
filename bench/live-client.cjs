// bench/live-client.cjs URL WRITE_KEY RATE SECONDS SLOT OUT: bench/live's
// sender. A real Segment client (@segment/analytics-node, NODE_PATH from
// scripts/npm-deps.sh) tracks RATE "purchase" events a second for SECONDS
// seconds, each from its own user (u%07d of 1 + 2k + SLOT, so that the
// two runs of bench/live never share a user), in batches of 100. Its HTTP
// client is the library's own, wrapped to note when each request was sent
// and when its 200 came. Writes OUT: "U USER MS" (the 200 of the batch
// that carried USER's event, in ms since the epoch) and "R MS N" (a
// request that took MS milliseconds for N events); prints the number of
// failed events.
'use strict';
const fs = require('fs');
const { Analytics, FetchHTTPClient } = require('@segment/analytics-node');

const [url, key, rate, seconds, slot, outPath] = process.argv.slice(2);
const total = Number(rate) * Number(seconds);
const lines = [];
let failed = 0;

const inner = new FetchHTTPClient();
const httpClient = {
  async makeRequest(options) {
    const t0 = Date.now();
    const res = await inner.makeRequest(options);
    const t1 = Date.now();
    const batch = JSON.parse(options.body).batch;
    if (res.status === 200)
      for (const e of batch)
        lines.push('U ' + e.userId + ' ' + t1);
    lines.push('R ' + (t1 - t0) + ' ' + batch.length);
    return res;
  },
};

const a = new Analytics({ writeKey: key, host: url, flushAt: 100,
  flushInterval: 100, maxRetries: 0, httpRequestTimeout: 30000, httpClient });
const sent = [];
const t0 = Date.now();
let k = 0;

function user(i) {
  return 'u' + String(1 + 2 * i + Number(slot)).padStart(7, '0');
}

function pump() {
  const due = Math.min(total, Math.floor((Date.now() - t0) * rate / 1000));
  for (; k < due; k++)
    sent.push(new Promise((done) => a.track({ userId: user(k),
      event: 'purchase', messageId: 'live-' + slot + '-' + k },
    (err) => { if (err) failed++; done(); })));
  if (k < total)
    setTimeout(pump, 2);
  else
    Promise.all(sent).then(() => a.closeAndFlush({ timeout: 60000 }))
      .then(() => {
        fs.writeFileSync(outPath, lines.join('\n') + '\n');
        process.stdout.write(failed + '\n');
        process.exit(0);
      });
}

pump();
