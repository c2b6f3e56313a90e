// send.cjs CLIENT URL WRITE_KEY < CALLS: calls journeyd's HTTP API through a
// real client library, as an application would: CLIENT is "segment"
// (@segment/analytics-node) or "rudder" (@rudderstack/rudder-sdk-node);
// CALLS is a JSON list of [method, message] ("track", {...}). Waits until
// every message was sent (or failed), then prints {"errors": [...]}: one
// entry per message that failed, with the HTTP status when there was one.
// Used by tests/e2e/http_clients.py and bench/http (NODE_PATH: where
// scripts/npm-deps.sh installed them).
'use strict';
const fs = require('fs');

const [client, url, key] = process.argv.slice(2);
const calls = JSON.parse(fs.readFileSync(0, 'utf8'));
const errors = [];

function failed(err) {
  const status = err && (err.status || (err.response && err.response.status)
    || (err.reason && err.reason.status));
  errors.push(status ? 'HTTP ' + status : String((err && err.code) || err));
}

function segment() {
  const { Analytics } = require('@segment/analytics-node');
  const a = new Analytics({ writeKey: key, host: url, flushAt: 10,
    flushInterval: 200, maxRetries: 0, httpRequestTimeout: 30000 });
  const sent = calls.map(([m, msg]) => new Promise((done) =>
    a[m](msg, (err) => { if (err) failed(err); done(); })));
  return Promise.all(sent).then(() => a.closeAndFlush({ timeout: 60000 }));
}

function rudder() {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const a = new Analytics(key, { dataPlaneUrl: url, flushAt: 10,
    flushInterval: 200, retryCount: 0, timeout: 30000, logLevel: 'error' });
  const sent = calls.map(([m, msg]) => new Promise((done) =>
    a[m](msg, (err) => { if (err) failed(err); done(); })));
  return a.flush().catch(() => {}).then(() => Promise.all(sent));
}

(client === 'segment' ? segment() : rudder()).then(() => {
  process.stdout.write(JSON.stringify({ errors }) + '\n');
  process.exit(0);
}, (err) => {
  process.stderr.write('send.cjs: ' + (err && err.stack || err) + '\n');
  process.exit(1);
});
