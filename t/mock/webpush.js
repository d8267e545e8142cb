'use strict';
// A Web Push service (RFC 8030) for the mock providers: providers.js loads this
// file and gives it its helpers. It listens on its own port over TLS (HTTP/2 by
// ALPN, HTTP/1.1 otherwise), holds one test subscription key pair (made at
// start, or --webpush-ua-key PEM) and, for each POST /wp/<key>:
//
//   - checks TTL (required), Content-Encoding aes128gcm, Urgency and Topic;
//   - verifies the VAPID token (RFC 8292): vapid t=<ES256 JWT>, k=<public key>,
//     aud = this server's origin, exp in the future and at most 24 h away, sub
//     a mailto: or https: URI; failures answer 401 with the reason;
//   - decrypts the body (RFC 8291) with the subscription's private key and auth
//     secret (at most 4096 octets: 413 beyond); a body that does not decrypt is
//     a 400;
//   - records the decrypted text (`plaintext`, and `payload` when it is JSON),
//     the token (`vapid`), `ttl`, `urgency`, `topic`, then answers 201 with a
//     Location, or what a script says (mock_script('webpush', key, ...)).
//
// GET /__mock/webpush (control port) answers {"p256dh", "auth", "endpoint"}:
// the test subscription's keys and the endpoint prefix to append a key to.
// With --no-record, bodies are not decrypted (benchmarks send random bytes).

const http2 = require('http2');
const crypto = require('crypto');
const fs = require('fs');

const kinds = ['webpush'];
const PREFIX = '/wp/';
const MAX_BODY = 4096;
const TOPIC_RE = /^[A-Za-z0-9_-]{1,32}$/;
const URGENCY = new Set(['very-low', 'low', 'normal', 'high']);

let h;          // the helpers providers.js hands over
let ua;         // { ecdh, pub (65 bytes), auth (16 bytes) }
let origin;     // https://127.0.0.1:<port>
const conns = new WeakMap();
const verified = new Map();   // authorization value -> exp (s), a few of them

function loadUa(file) {
  const ecdh = crypto.createECDH('prime256v1');
  if (file) {
    const jwk = crypto.createPrivateKey(fs.readFileSync(file)).export({ format: 'jwk' });
    ecdh.setPrivateKey(Buffer.from(jwk.d, 'base64url'));
  } else {
    ecdh.generateKeys();
  }
  return { ecdh, pub: ecdh.getPublicKey(), auth: crypto.randomBytes(16) };
}

function b64json(part) {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch (e) {
    return null;
  }
}

// vapid t=..., k=... -> { header, claims } or a reason string
function checkVapid(auth) {
  if (typeof auth !== 'string') return 'no Authorization header';
  const m = /^vapid\s+(.*)$/i.exec(auth);
  if (!m) return 'the Authorization scheme is not vapid';
  const params = {};
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  if (!params.t || !params.k) return 'vapid needs t= and k=';
  const parts = params.t.split('.');
  if (parts.length !== 3) return 't is not a JWT';
  const header = b64json(parts[0]);
  const claims = b64json(parts[1]);
  if (!header || !claims) return 'the JWT does not decode';
  if (header.alg !== 'ES256') return 'the JWT is not ES256';
  const k = Buffer.from(params.k, 'base64url');
  if (k.length !== 65 || k[0] !== 4) return 'k is not an uncompressed P-256 point';
  const nowS = Date.now() / 1000;
  const cached = verified.get(auth);
  if (cached === undefined) {
    let good = false;
    try {
      const key = crypto.createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256',
        x: k.subarray(1, 33).toString('base64url'), y: k.subarray(33).toString('base64url') } });
      good = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]),
        { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
    } catch (e) {
      good = false;
    }
    if (!good) return 'the JWT signature does not verify with k';
  }
  if (claims.aud !== origin) return `aud is not ${origin}`;
  if (typeof claims.exp !== 'number' || claims.exp <= nowS) return 'exp is past';
  if (claims.exp > nowS + 24 * 3600) return 'exp is more than 24 hours away';
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) return 'sub is not a mailto: or https: URI';
  if (verified.size > 64) verified.clear();
  verified.set(auth, claims.exp);
  return { header, claims, k: params.k };
}

// RFC 8291 / 8188, one record: the plaintext, or null
function decrypt(body) {
  if (body.length < 86 + 17) return null;
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  if (idlen !== 65) return null;
  const asPub = body.subarray(21, 86);
  try {
    const secret = ua.ecdh.computeSecret(asPub);
    const info = Buffer.concat([Buffer.from('WebPush: info\0'), ua.pub, asPub]);
    const ikm = Buffer.from(crypto.hkdfSync('sha256', secret, ua.auth, info, 32));
    const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const d = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
    d.setAuthTag(body.subarray(body.length - 16));
    const plain = Buffer.concat([d.update(body.subarray(86, body.length - 16)), d.final()]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0 || plain[end] !== 2) return null;   // the last record's delimiter
    return plain.subarray(0, end);
  } catch (e) {
    return null;
  }
}

function reject(r, status, reason, extra) {
  h.finish(r, status, { 'content-type': 'text/plain' }, reason, null, null, extra || null);
}

function handle(r) {
  const hd = r.headers;
  if (r.method !== 'POST') return reject(r, 405, 'method not allowed');
  if (!r.path.startsWith(PREFIX)) return reject(r, 404, 'no such subscription');
  r.key = r.path.slice(PREFIX.length).split('?')[0];
  const extra = { ttl: hd.ttl, urgency: hd.urgency || null, topic: hd.topic || null };
  if (hd.ttl === undefined || !/^[0-9]+$/.test(hd.ttl)) return reject(r, 400, 'TTL is required', extra);
  if (hd.urgency !== undefined && !URGENCY.has(hd.urgency)) return reject(r, 400, 'bad Urgency', extra);
  if (hd.topic !== undefined && !TOPIC_RE.test(hd.topic)) return reject(r, 400, 'bad Topic', extra);
  if ((hd['content-encoding'] || '').toLowerCase() !== 'aes128gcm') return reject(r, 415, 'not aes128gcm', extra);
  const v = checkVapid(hd.authorization);
  if (typeof v === 'string') { extra.vapidError = v; return reject(r, 401, v, extra); }
  extra.vapid = v;
  if (r.size > MAX_BODY) return reject(r, 413, 'payload too large', extra);
  if (h.config.record) {
    const plain = decrypt(r.body);
    if (plain === null) return reject(r, 400, 'the body does not decrypt', extra);
    extra.plaintext = plain.toString('utf8');
    extra.payload = h.tryJson(extra.plaintext);
  }
  const sc = h.takeScript('webpush', r.key);
  const status = sc === null ? 201 : h.scriptStatus(sc, {}, 500);
  const headers = {};
  let body = '';
  if (status === 201) headers.location = `${origin}/msg/${crypto.randomUUID()}`;
  else if (status >= 400) body = (sc && sc.reason) || 'error';
  // the body is the ciphertext: keep the record small
  r.body = Buffer.alloc(0);
  h.finish(r, status, headers, body, null, sc, extra);
}

function connOf(key) {
  let c = conns.get(key);
  if (c === undefined) { c = h.newConn(true, null); conns.set(key, c); }
  return c;
}

function onRequest(req, res) {
  const t = h.now();
  const conn = connOf(req.stream ? req.stream.session : req.socket);
  const r = {
    kind: 'webpush', conn, stream: null, res, method: req.method, path: req.url, search: '',
    key: null, headers: req.headers, body: Buffer.alloc(0), size: 0, t, streams: 1, json: undefined,
  };
  const chunks = [];
  req.on('error', () => {});
  req.on('data', (c) => { r.size += c.length; if (r.size <= 2 * MAX_BODY) chunks.push(c); });
  req.on('end', () => { r.body = Buffer.concat(chunks); handle(r); });
}

function control(req, res) {
  const out = JSON.stringify({ p256dh: ua.pub.toString('base64url'), auth: ua.auth.toString('base64url'),
    endpoint: `${origin}${PREFIX}` });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
  res.end(out);
}

// Called by providers.js once its own servers listen.
async function start(helpers) {
  h = helpers;
  ua = loadUa(h.opts.webpushUaKey);
  h.control.webpush = control;
  if (!h.opts.tlsCert) { h.ports.webpush = null; return; }
  const srv = http2.createSecureServer({
    cert: fs.readFileSync(h.opts.tlsCert), key: fs.readFileSync(h.opts.tlsKey),
    allowHTTP1: true, settings: { maxConcurrentStreams: 1000, enablePush: false },
  });
  srv.on('request', onRequest);
  srv.on('session', (s) => { s.on('error', () => {}); h.sessions.add(s); s.on('close', () => h.sessions.delete(s)); });
  srv.on('sessionError', () => {});
  srv.on('error', (e) => { process.stderr.write(`webpush.js: ${e.message}\n`); });
  h.servers.push(srv);
  h.ports.webpush = await h.listen(srv);
  origin = `https://127.0.0.1:${h.ports.webpush}`;
}

module.exports = { kinds, options: { '--webpush-ua-key': 'webpushUaKey' }, start };
