#!/usr/bin/env node
// A small, complete receiver of Herald's webhooks, Node.js standard library
// only (docs/receivers.md explains every step). It checks the bearer token
// and the Standard Webhooks signature, drops duplicates by webhook-id, and
// prints one line per event to stdout:
//
//   user_created jdoe
//   group_deleted devs
//
// Settings come from the environment:
//
//   RECEIVER_ADDR          address to listen on (default 127.0.0.1:9000)
//   HERALD_SIGNING_SECRET  the webhook's signing_secret, "whsec_..." (required)
//   HERALD_TOKEN           the webhook's secret token; checked when set
//
// Run it with: node examples/node-receiver/receiver.js
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

// How far webhook-timestamp may be from now. Herald stamps every attempt
// afresh, so only a replayed (captured) request is older.
const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY = 1 << 20;

const addr = process.env.RECEIVER_ADDR || '127.0.0.1:9000';
const secret = process.env.HERALD_SIGNING_SECRET || '';
const token = process.env.HERALD_TOKEN || ''; // '' means: do not check
const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
if (!secret.startsWith('whsec_') || !b64.test(secret.slice(6))) {
  console.error("set HERALD_SIGNING_SECRET to the webhook's signing_secret (whsec_...)");
  process.exit(1);
}
const key = Buffer.from(secret.slice(6), 'base64');

// The last LIMIT webhook-ids seen (a Map keeps insertion order, oldest
// first). In memory, it forgets everything on restart: in production, keep
// the ids in your database, in the same transaction as the work they stand for.
const LIMIT = 10000;
const seen = new Map();

// Records id; returns false if it was already there.
function addSeen(id) {
  if (seen.has(id)) return false;
  seen.set(id, true);
  if (seen.size > LIMIT) seen.delete(seen.keys().next().value); // the oldest
  return true;
}

// Constant-time comparison of two strings.
function same(a, b) {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Checks webhook-signature per the Standard Webhooks spec: the HMAC-SHA256
// of "<id>.<timestamp>.<body>" keyed with the secret, base64, after "v1,".
// During a secret rotation Herald sends two, separated by a space; one
// matching is enough. Returns an error message, or null when genuine.
function verify(id, timestamp, signatures, body) {
  if (!id || !timestamp || !signatures) {
    return 'missing webhook-id, webhook-timestamp or webhook-signature';
  }
  if (!/^[0-9]+$/.test(timestamp)) return 'webhook-timestamp is not Unix seconds';
  // Reject old (replayed) requests, and ones from the future too.
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
    return 'webhook-timestamp is too far from now';
  }
  const want = crypto.createHmac('sha256', key)
    .update(`${id}.${timestamp}.`)
    .update(body) // the raw bytes as received, never re-encoded JSON
    .digest('base64');
  for (const sig of signatures.split(' ')) {
    const [version, value] = sig.split(',', 2);
    if (version === 'v1' && value !== undefined && same(value, want)) return null;
  }
  return 'no valid signature';
}

function answer(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text + '\n');
}

// Herald retries a 401, so a misconfigured secret shows up as retrying
// deliveries in Herald's delivery log.
function reject(res, why) {
  console.error(`rejected: ${why}`);
  answer(res, 401, why);
}

function handle(req, res, body) {
  if (token && !same(req.headers['authorization'] || '', `Bearer ${token}`)) {
    return reject(res, 'wrong or missing bearer token');
  }
  // Node lower-cases header names.
  const id = req.headers['webhook-id'] || '';
  const error = verify(id, req.headers['webhook-timestamp'] || '',
    req.headers['webhook-signature'] || '', body);
  if (error) return reject(res, error);
  // At least once: a retry or a redelivery carries the same webhook-id.
  // Answer 2xx so Herald stops, but do the work only once.
  if (!addSeen(id)) return answer(res, 200, `duplicate ${id} ignored`);
  const event = req.headers['x-defguard-event'] || '';
  let data;
  try {
    data = JSON.parse(body.toString('utf8'));
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error();
  } catch {
    seen.delete(id); // not handled: let a retry try again
    return answer(res, 400, 'body is not a JSON object');
  }
  // A webhook with format "envelope" wraps the body: {"id", "type",
  // "occurred_at", "actor", "data", "previous", "changed"}, data being the
  // body a "defguard" webhook gets. Take data, and see who did it.
  if (data.data !== null && typeof data.data === 'object') {
    const actor = data.actor || {};
    console.error(`${event} by ${actor.type} ${actor.username || actor.station || ''}, changed ${JSON.stringify(data.changed)}`);
    data = data.data;
  }
  // Do the real work here (send a welcome mail, close an account...). If it
  // fails, call seen.delete(id) and answer 5xx: Herald will retry.
  switch (event) {
    case 'user_created': case 'user_modified': case 'user_deleted': case 'user_keys':
      console.log(`${event} ${data.username}`);
      break;
    case 'group_created': case 'group_modified': case 'group_deleted':
      console.log(`${event} ${data.name}`);
      break;
    case 'webhook_test':
      console.log(`${event} ${data.webhook_id}`);
      break;
    default:
      // A newer Herald may send events this code does not know yet: accept
      // them, or Herald would retry them for a day.
      console.error(`ignoring unknown event ${JSON.stringify(event)}`);
  }
  answer(res, 200, 'ok');
}

const server = http.createServer((req, res) => {
  // Herald sends GET by default (as Defguard does), with a JSON body.
  if (req.method !== 'GET' && req.method !== 'POST') {
    res.setHeader('Allow', 'GET, POST');
    return answer(res, 405, 'use GET or POST');
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      answer(res, 413, 'body too large');
      req.destroy();
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
});

const i = addr.lastIndexOf(':');
const host = addr.slice(0, i), port = Number(addr.slice(i + 1));
server.listen(port, host || undefined, () => {
  console.error(`listening on http://${addr}`);
});
