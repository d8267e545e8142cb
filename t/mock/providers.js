#!/usr/bin/env node
'use strict';
// Loopback stand-ins for the services mod_push's sender talks to:
//
//   APNs      HTTP/2 over cleartext (prior knowledge) and over TLS (ALPN h2)
//   FCM v1    HTTP/2 over cleartext (also answered on the HTTP/1.1 port)
//   OAuth     Google's token endpoint for service accounts (HTTP/1.1)
//   webhooks  a receiver that keeps what it was sent (HTTP/1.1)
//   SMS       a gateway that keeps the parameters it was given (HTTP/1.1)
//   WNS       token endpoint and channel URIs (HTTP/1.1; wns.js)
//
// plus a control API on the HTTP/1.1 port (/__mock/...) through which a test
// scripts the answers and reads back what arrived. Only Node's own modules are
// used. See README.md beside this file.

const http = require('http');
const http2 = require('http2');
const crypto = require('crypto');
const fs = require('fs');
const { URL, URLSearchParams } = require('url');
// Services kept in files of their own: their kinds, options and start(helpers),
// called once the servers here listen.
const extensions = [require('./webpush.js')];

// ---------------------------------------------------------------- options --

const USAGE = `usage: node providers.js [--ports-file FILE] [--tls-cert PEM --tls-key PEM]
       [--apns-key-pub PEM] [--apns-key-id KID] [--apns-team-id TEAM]
       [--fcm-key-pub PEM] [--no-record] [--host 127.0.0.1]`;

function die(msg) {
  process.stderr.write(`providers.js: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { host: '127.0.0.1', record: true };
  const valued = {
    '--ports-file': 'portsFile', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey',
    '--apns-key-pub': 'apnsKeyPub', '--apns-key-id': 'apnsKeyId',
    '--apns-team-id': 'apnsTeamId', '--fcm-key-pub': 'fcmKeyPub', '--host': 'host',
  };
  for (const x of extensions) Object.assign(valued, x.options);
  for (let i = 0; i < argv.length; i++) {
    let name = argv[i];
    let value;
    const eq = name.indexOf('=');
    if (name.startsWith('--') && eq > 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    if (name === '--no-record') { o.record = false; continue; }
    if (name === '--help' || name === '-h') { process.stdout.write(USAGE + '\n'); process.exit(0); }
    const field = valued[name];
    if (!field) die(`unknown option ${name}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) die(`${name} needs a value`);
    }
    o[field] = value;
  }
  if (!o.tlsCert !== !o.tlsKey) die('--tls-cert and --tls-key go together');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

function readKey(file, what) {
  try {
    // createPublicKey also takes a private key and derives the public half, so
    // a test may hand over the .p8 / service-account key itself.
    return crypto.createPublicKey(fs.readFileSync(file));
  } catch (e) {
    die(`cannot load ${what} ${file}: ${e.message}`);
  }
  return null;
}

const apnsKey = opts.apnsKeyPub ? readKey(opts.apnsKeyPub, '--apns-key-pub') : null;
const fcmKey = opts.fcmKeyPub ? readKey(opts.fcmKeyPub, '--fcm-key-pub') : null;

// ------------------------------------------------------------------ state --

const KINDS = ['apns', 'fcm', 'fcm-token', 'webhook', 'sms'];
const KIND_BIT = { apns: 1, fcm: 2, 'fcm-token': 4, webhook: 8, sms: 16 };
for (const x of extensions) for (const k of x.kinds) { KIND_BIT[k] = 1 << KINDS.length; KINDS.push(k); }
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
// Channels kept in files of their own, on the HTTP/1.1 port: each names its kinds, which
// join the recordings, statistics and scripts, and gets the helpers it needs (main()).
const CHANNELS = [require('./wns')];
const CHANNEL_OF = {};
for (const ch of CHANNELS) {
  for (const k of ch.kinds) { KIND_BIT[k] = 1 << KINDS.length; KINDS.push(k); CHANNEL_OF[k] = ch; }
}

const config = {
  record: opts.record,        // keep each request for /__mock/requests
  fcmTokenExpiresIn: 3599,    // seconds, as the token endpoint reports them
};

let seq = 0;                  // global request counter (record "seq")
let connSeq = 0;              // connection / HTTP/2 session ids
let generation = 0;           // bumped by reset, so connection counts restart
let records = [];
let stats = freshStats();
let scripts = freshScripts();
const accessTokens = new Map();  // issued FCM access token -> expiry (ms epoch)

function freshStats() {
  const s = {};
  for (const k of KINDS) {
    s[k] = { requests: 0, ok: 0, dropped: 0, first: null, last: null,
      connections: 0, maxStreams: 0, statuses: {} };
  }
  return s;
}

function freshScripts() {
  const s = {};
  for (const k of KINDS) s[k] = new Map();
  return s;
}

// Milliseconds since the epoch, with sub-millisecond precision.
const now = () => performance.timeOrigin + performance.now();

function newConn(tls, clientCert) {
  return {
    id: ++connSeq, tls, clientCert,
    active: 0,            // HTTP/2 streams open right now
    seen: 0, seenGen: generation,
    apnsAuth: null, apnsIat: 0,   // last authorization value verified here
    fcmAuth: null, fcmExp: 0,
    goodBody: null,       // last APNs payload found valid (only without recording)
  };
}

// Take the next scripted answer for a request, if any: the queue for its own
// key first, then the one for "*".
function takeScript(kind, key) {
  const m = scripts[kind];
  if (m.size === 0) return null;
  let q = key !== null ? m.get(key) : undefined;
  let qk = key;
  if (q === undefined) { q = m.get('*'); qk = '*'; }
  if (q === undefined) return null;
  const e = q[0];
  if (e.left > 0 && --e.left === 0) {
    q.shift();
    if (q.length === 0) m.delete(qk);
  }
  return e.resp;
}

// Count a finished request (and keep it when recording).
function account(r, status, json, sc, extra) {
  const s = stats[r.kind];
  const c = r.conn;
  s.requests++;
  if (s.first === null) s.first = r.t;
  s.last = r.t;
  if (c.seenGen !== generation) { c.seenGen = generation; c.seen = 0; }
  const bit = KIND_BIT[r.kind];
  if ((c.seen & bit) === 0) { c.seen |= bit; s.connections++; }
  if (r.streams > s.maxStreams) s.maxStreams = r.streams;
  const dropped = sc !== null && sc.drop;
  if (dropped) s.dropped++;
  else {
    if (status >= 200 && status < 300) s.ok++;
    s.statuses[status] = (s.statuses[status] || 0) + 1;
  }
  if (!config.record) return;
  const body = r.body.toString('utf8');
  if (json === undefined) json = tryJson(body);
  const rec = {
    seq: ++seq, kind: r.kind, key: r.key, method: r.method, path: r.path,
    headers: plainHeaders(r.headers), body, json, time: r.t,
    status: dropped ? null : status, conn: c.id, tls: c.tls, clientCert: c.clientCert,
    scripted: sc !== null,
  };
  if (extra) Object.assign(rec, extra);
  records.push(rec);
}

function plainHeaders(h) {
  const out = {};
  for (const k in h) if (k.charCodeAt(0) !== 58 /* ':' */) out[k] = h[k];
  return out;
}

function tryJson(text) {
  if (text.length === 0) return null;
  try { return JSON.parse(text); } catch (e) { return null; }
}

function queryObject(search) {
  const out = {};
  for (const [k, v] of new URLSearchParams(search)) {
    if (Object.prototype.hasOwnProperty.call(out, k)) {
      if (Array.isArray(out[k])) out[k].push(v); else out[k] = [out[k], v];
    } else out[k] = v;
  }
  return out;
}

function b64json(part) {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch (e) {
    return null;
  }
}

// A JWT's header and claims, unverified (for the record only).
function peekJwt(token) {
  if (typeof token !== 'string') return null;
  const p = token.split('.');
  if (p.length !== 3) return null;
  return { header: b64json(p[0]), claims: b64json(p[1]) };
}

// ------------------------------------------------------------- answering --
//
// A request in flight is a small object r: { kind, conn, stream | res, method,
// path, key, headers, body (Buffer), t (arrival), streams (open on its
// session when it arrived) }. Handlers decide an answer and call finish().

function send(r, status, headers, body) {
  if (r.stream !== null) {
    const st = r.stream;
    if (st.destroyed || st.closed) return;
    headers[':status'] = status;
    if (body === null || body === '') st.respond(headers, { endStream: true });
    else { st.respond(headers); st.end(body); }
  } else {
    const res = r.res;
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, headers);
    res.end(body === null ? '' : body);
  }
}

function drop(r) {
  if (r.stream !== null) r.stream.session.destroy();
  else r.res.socket.destroy();
}

function act(r, status, headers, body, sc) {
  if (sc !== null && sc.drop) { drop(r); return; }
  if (sc !== null && sc.goaway && r.stream === null) headers.connection = 'close';
  send(r, status, headers, body);
  // Graceful close: GOAWAY now, the session ends once its streams are done.
  if (sc !== null && sc.goaway && r.stream !== null) r.stream.session.close();
}

// Apply the parts of a scripted answer that do not depend on the provider.
function finish(r, status, headers, body, json, sc, extra) {
  if (sc !== null) {
    if (sc.retryAfter !== undefined) headers['retry-after'] = String(sc.retryAfter);
    if (sc.headers) for (const k in sc.headers) headers[k.toLowerCase()] = String(sc.headers[k]);
    if (sc.body !== undefined) {
      body = typeof sc.body === 'string' ? sc.body : JSON.stringify(sc.body);
    }
  }
  account(r, status, json, sc, extra);
  if (sc !== null && sc.delayMs > 0) {
    setTimeout(act, sc.delayMs, r, status, headers, body, sc);
    return;
  }
  act(r, status, headers, body, sc);
}

// The status a scripted answer asks for: its own, else the one its reason implies.
function scriptStatus(sc, reasonTable, fallback) {
  if (sc.status !== undefined) return sc.status;
  if (sc.reason !== undefined) return reasonTable[sc.reason] || fallback;
  return 200;
}

// ------------------------------------------------------------------- APNs --

const APNS_REASON_STATUS = {
  BadCollapseId: 400, BadDeviceToken: 400, BadExpirationDate: 400, BadMessageId: 400,
  BadPriority: 400, BadTopic: 400, DeviceTokenNotForTopic: 400, DuplicateHeaders: 400,
  IdleTimeout: 400, InvalidPushType: 400, MissingDeviceToken: 400, MissingTopic: 400,
  PayloadEmpty: 400, TopicDisallowed: 400,
  BadCertificate: 403, BadCertificateEnvironment: 403, ExpiredProviderToken: 403,
  Forbidden: 403, InvalidProviderToken: 403, MissingProviderToken: 403,
  UnrelatedKeyIdInToken: 403, BadEnvironmentKeyIdInToken: 403,
  BadPath: 404, MethodNotAllowed: 405, ExpiredToken: 410, Unregistered: 410,
  PayloadTooLarge: 413, TooManyProviderTokenUpdates: 429, TooManyRequests: 429,
  InternalServerError: 500, ServiceUnavailable: 503, Shutdown: 503,
};
const APNS_STATUS_REASON = {
  400: 'BadDeviceToken', 403: 'InvalidProviderToken', 404: 'BadPath',
  405: 'MethodNotAllowed', 410: 'Unregistered', 413: 'PayloadTooLarge',
  429: 'TooManyRequests', 500: 'InternalServerError', 503: 'ServiceUnavailable',
};
const APNS_PUSH_TYPES = new Set(['alert', 'background', 'voip', 'complication',
  'fileprovider', 'mdm', 'liveactivity']);
const HEX_RE = /^[0-9a-fA-F]+$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DIGITS_RE = /^[0-9]+$/;
const APNS_PREFIX = '/3/device/';

// Checks a provider token (ES256 JWT) against --apns-key-pub; returns null when
// good, else the APNs reason. A session remembers the last value it verified,
// so a sender that reuses its token pays for one signature check, not one per
// request.
function checkApnsJwt(conn, auth) {
  const nowS = Date.now() / 1000;
  if (auth === conn.apnsAuth) {
    return nowS - conn.apnsIat > 3600 ? 'ExpiredProviderToken' : null;
  }
  if (auth.length < 8 || auth.slice(0, 7).toLowerCase() !== 'bearer ') return 'InvalidProviderToken';
  const parts = auth.slice(7).trim().split('.');
  if (parts.length !== 3) return 'InvalidProviderToken';
  const head = b64json(parts[0]);
  const claims = b64json(parts[1]);
  if (head === null || claims === null) return 'InvalidProviderToken';
  if (head.alg !== 'ES256') return 'InvalidProviderToken';
  if (opts.apnsKeyId !== undefined && head.kid !== opts.apnsKeyId) return 'InvalidProviderToken';
  if (opts.apnsTeamId !== undefined && claims.iss !== opts.apnsTeamId) return 'InvalidProviderToken';
  if (typeof claims.iat !== 'number' || !isFinite(claims.iat)) return 'InvalidProviderToken';
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== 64) return 'InvalidProviderToken';
  let good = false;
  try {
    good = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]),
      { key: apnsKey, dsaEncoding: 'ieee-p1363' }, sig);
  } catch (e) {
    good = false;
  }
  if (!good) return 'InvalidProviderToken';
  if (claims.iat > nowS + 60) return 'InvalidProviderToken';
  if (nowS - claims.iat > 3600) return 'ExpiredProviderToken';
  conn.apnsAuth = auth;
  conn.apnsIat = claims.iat;
  return null;
}

// Apple's checks, in roughly the order it makes them. Returns a reason or null;
// sets r.key and r.json on the way.
function apnsCheck(r) {
  const h = r.headers;
  if (r.method !== 'POST') return 'MethodNotAllowed';
  const path = r.path;
  if (!path.startsWith(APNS_PREFIX)) return 'BadPath';
  const token = path.slice(APNS_PREFIX.length);
  r.key = token;
  const id = h['apns-id'];
  if (id !== undefined && !UUID_RE.test(id)) return 'BadMessageId';
  const auth = h.authorization;
  if (auth === undefined) {
    if (apnsKey !== null && r.conn.clientCert === null) return 'MissingProviderToken';
  } else if (apnsKey !== null) {
    const why = checkApnsJwt(r.conn, auth);
    if (why !== null) return why;
  }
  if (token.length === 0) return 'MissingDeviceToken';
  if (!HEX_RE.test(token)) return 'BadDeviceToken';
  if (auth !== undefined && !h['apns-topic']) return 'MissingTopic';
  const type = h['apns-push-type'];
  if (type !== undefined && !APNS_PUSH_TYPES.has(type)) return 'InvalidPushType';
  const prio = h['apns-priority'];
  // Apple documents 1 as well as 5 and 10.
  if (prio !== undefined && prio !== '10' && prio !== '5' && prio !== '1') return 'BadPriority';
  const collapse = h['apns-collapse-id'];
  if (collapse !== undefined && Buffer.byteLength(collapse) > 64) return 'BadCollapseId';
  const exp = h['apns-expiration'];
  if (exp !== undefined && !DIGITS_RE.test(exp)) return 'BadExpirationDate';
  const len = r.size;
  if (len === 0) return 'PayloadEmpty';
  if (len > (type === 'voip' ? 5120 : 4096)) return 'PayloadTooLarge';
  // Without recording the parsed payload is not needed, only its verdict: a
  // session that sends the very bytes it sent last time (a benchmark) skips
  // the parse.
  const conn = r.conn;
  if (!config.record && conn.goodBody !== null && r.body.equals(conn.goodBody)) return null;
  let json;
  try { json = JSON.parse(r.body.toString('utf8')); } catch (e) { return 'PayloadEmpty'; }
  r.json = json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'PayloadEmpty';
  const aps = json.aps;
  if (aps === null || typeof aps !== 'object' || Array.isArray(aps)) return 'PayloadEmpty';
  if (!config.record) conn.goodBody = Buffer.from(r.body);
  return null;
}

function apnsError(headers, status, reason, timestamp) {
  headers['content-type'] = 'application/json';
  const o = { reason };
  if (status === 410) o.timestamp = timestamp !== undefined ? timestamp : Date.now();
  return JSON.stringify(o);
}

function apnsHandle(r) {
  const reason = apnsCheck(r);
  const given = r.headers['apns-id'];
  const headers = { 'apns-id': given !== undefined && reason !== 'BadMessageId' ? given : crypto.randomUUID() };
  const json = r.json === undefined ? null : r.json;
  const extra = config.record ? { jwt: peekJwt(bearer(r.headers.authorization)) } : null;
  if (reason !== null) {
    const status = APNS_REASON_STATUS[reason];
    finish(r, status, headers, apnsError(headers, status, reason), json, null, extra);
    return;
  }
  const sc = takeScript('apns', r.key);
  if (sc === null) { finish(r, 200, headers, null, json, null, extra); return; }
  const status = scriptStatus(sc, APNS_REASON_STATUS, 400);
  let body = null;
  if (status < 200 || status >= 300) {
    body = apnsError(headers, status, sc.reason || APNS_STATUS_REASON[status] || 'InternalServerError', sc.timestamp);
  }
  finish(r, status, headers, body, json, sc, extra);
}

function bearer(auth) {
  if (typeof auth !== 'string') return null;
  const m = /^bearer\s+(\S+)/i.exec(auth);
  return m ? m[1] : null;
}

// -------------------------------------------------------------------- FCM --

// errorCode -> [HTTP status, Google status]
const FCM_CODES = {
  UNREGISTERED: [404, 'NOT_FOUND'],
  INVALID_ARGUMENT: [400, 'INVALID_ARGUMENT'],
  QUOTA_EXCEEDED: [429, 'RESOURCE_EXHAUSTED'],
  UNAVAILABLE: [503, 'UNAVAILABLE'],
  INTERNAL: [500, 'INTERNAL'],
  THIRD_PARTY_AUTH_ERROR: [401, 'UNAUTHENTICATED'],
  SENDER_ID_MISMATCH: [403, 'PERMISSION_DENIED'],
  UNSPECIFIED_ERROR: [500, 'UNKNOWN'],
};
// Google's canonical statuses that are not FCM error codes too.
const GOOGLE_STATUS = {
  UNAUTHENTICATED: 401, PERMISSION_DENIED: 403, NOT_FOUND: 404, RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400, OUT_OF_RANGE: 400, ABORTED: 409, ALREADY_EXISTS: 409,
  CANCELLED: 499, UNKNOWN: 500, DATA_LOSS: 500, UNIMPLEMENTED: 501, DEADLINE_EXCEEDED: 504,
};
const HTTP_GOOGLE_STATUS = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  409: 'ABORTED', 429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED', 500: 'INTERNAL',
  501: 'UNIMPLEMENTED', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};
const FCM_STATUS_REASON = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'SENDER_ID_MISMATCH',
  404: 'UNREGISTERED', 429: 'QUOTA_EXCEEDED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
};
const FCM_REASON_STATUS = {};
for (const k in FCM_CODES) FCM_REASON_STATUS[k] = FCM_CODES[k][0];
for (const k in GOOGLE_STATUS) FCM_REASON_STATUS[k] = GOOGLE_STATUS[k];
const FCM_MESSAGES = {
  UNREGISTERED: 'Requested entity was not found.',
  INVALID_ARGUMENT: 'Request contains an invalid argument.',
  QUOTA_EXCEEDED: 'Quota exceeded for sending messages.',
  UNAVAILABLE: 'The service is currently unavailable.',
  INTERNAL: 'Internal error encountered.',
  THIRD_PARTY_AUTH_ERROR: 'Auth error from APNS or Web Push Service',
  SENDER_ID_MISMATCH: 'SenderId mismatch',
  UNAUTHENTICATED: 'Request had invalid authentication credentials. Expected OAuth 2 access token.',
};

// A Google-style error: { status, body }. reason is an FCM errorCode or a
// Google status name; either may be left out and is then derived.
function fcmError(status, reason, message) {
  if (!reason) reason = FCM_STATUS_REASON[status] || HTTP_GOOGLE_STATUS[status] || 'UNKNOWN';
  let code = status;
  let gstatus;
  let errorCode = null;
  if (FCM_CODES[reason]) {
    errorCode = reason;
    gstatus = FCM_CODES[reason][1];
    if (!code) code = FCM_CODES[reason][0];
  } else if (GOOGLE_STATUS[reason]) {
    gstatus = reason;
    if (!code) code = GOOGLE_STATUS[reason];
  } else {
    errorCode = reason;  // something new: pass it through as the errorCode
    if (!code) code = 500;
    gstatus = HTTP_GOOGLE_STATUS[code] || 'UNKNOWN';
  }
  const err = { code, message: message || FCM_MESSAGES[reason] || FCM_MESSAGES[gstatus] || reason, status: gstatus };
  if (errorCode !== null) {
    err.details = [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }];
  }
  return { status: code, body: JSON.stringify({ error: err }) };
}

const FCM_PATH_RE = /^\/v1\/projects\/([^/?]+)\/messages:send(?:\?.*)?$/;
const JSON_HEADERS = () => ({ 'content-type': 'application/json; charset=UTF-8' });

function fcmAuthOk(conn, auth) {
  if (auth === undefined) return false;
  const t = Date.now();
  if (auth === conn.fcmAuth && conn.fcmExp > t) return true;
  const tok = bearer(auth);
  if (tok === null) return false;
  const exp = accessTokens.get(tok);
  if (exp === undefined || exp <= t) return false;
  conn.fcmAuth = auth;
  conn.fcmExp = exp;
  return true;
}

// Returns null when the message is acceptable, else why not.
function fcmCheckMessage(json) {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'body is not a JSON object';
  const m = json.message;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return 'Invalid JSON payload: "message" missing or not an object';
  const targets = ['token', 'topic', 'condition'].filter((k) => m[k] !== undefined);
  if (targets.length !== 1) return 'Exactly one of message.token, message.topic or message.condition is required';
  const target = m[targets[0]];
  if (typeof target !== 'string' || target.length === 0) return `message.${targets[0]} must be a non-empty string`;
  if (m.data !== undefined) {
    if (m.data === null || typeof m.data !== 'object' || Array.isArray(m.data)) return 'message.data must be a map';
    for (const k in m.data) {
      if (typeof m.data[k] !== 'string') return `Invalid value at 'message.data[${k}]': values must be strings`;
    }
  }
  return null;
}

function fcmHandle(r) {
  const headers = JSON_HEADERS();
  const m = FCM_PATH_RE.exec(r.path);
  if (m === null || r.method !== 'POST') {
    r.key = null;
    const e = fcmError(404, 'NOT_FOUND', 'Requested entity was not found.');
    finish(r, e.status, headers, e.body, undefined, null, null);
    return;
  }
  const project = m[1];
  if (!fcmAuthOk(r.conn, r.headers.authorization)) {
    r.key = null;
    const e = fcmError(401, 'UNAUTHENTICATED');
    finish(r, e.status, headers, e.body, undefined, null, null);
    return;
  }
  let json = null;
  try { json = JSON.parse(r.body.toString('utf8')); } catch (e) { json = null; }
  const why = fcmCheckMessage(json);
  if (why !== null) {
    r.key = null;
    const e = fcmError(400, 'INVALID_ARGUMENT', why);
    finish(r, e.status, headers, e.body, json, null, null);
    return;
  }
  const msg = json.message;
  r.key = msg.token !== undefined ? msg.token : msg.topic !== undefined ? msg.topic : msg.condition;
  const sc = takeScript('fcm', r.key);
  const status = sc === null ? 200 : scriptStatus(sc, FCM_REASON_STATUS, 500);
  if (status >= 200 && status < 300) {
    const id = json.validate_only === true ? 'fake_message_id'
      : `0:${Date.now()}${crypto.randomBytes(3).readUIntBE(0, 3)}%${crypto.randomBytes(8).toString('hex')}`;
    finish(r, status, headers, JSON.stringify({ name: `projects/${project}/messages/${id}` }), json, sc, null);
    return;
  }
  const e = fcmError(status, sc.reason, sc.message);
  finish(r, e.status, headers, e.body, json, sc, null);
}

// ----------------------------------------------------- OAuth token endpoint --

function oauthError(error, description) {
  return JSON.stringify({ error, error_description: description });
}

// Checks a service account's assertion; returns [claims, null] or [claims|null, why].
function checkAssertion(assertion) {
  if (typeof assertion !== 'string' || assertion.length === 0) return [null, 'Missing assertion.'];
  const parts = assertion.split('.');
  if (parts.length !== 3) return [null, 'Invalid JWT: not three dot-separated parts.'];
  const head = b64json(parts[0]);
  const claims = b64json(parts[1]);
  if (head === null || claims === null) return [claims, 'Invalid JWT: header or claims are not JSON.'];
  if (head.alg !== 'RS256') return [claims, 'Invalid JWT: alg must be RS256.'];
  if (fcmKey !== null) {
    let good = false;
    try {
      good = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), fcmKey,
        Buffer.from(parts[2], 'base64url'));
    } catch (e) {
      good = false;
    }
    if (!good) return [claims, 'Invalid JWT Signature.'];
  }
  if (typeof claims.iss !== 'string' || claims.iss.length === 0) return [claims, 'Invalid JWT: iss is missing.'];
  if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(FCM_SCOPE)) {
    return [claims, `Invalid JWT: scope must include ${FCM_SCOPE}.`];
  }
  if (typeof claims.aud !== 'string' || !claims.aud.endsWith('/fcm/token')) {
    return [claims, 'Invalid JWT: Failed audience check.'];
  }
  const nowS = Date.now() / 1000;
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number'
      || claims.exp - claims.iat > 3600 || claims.exp <= claims.iat
      || claims.exp < nowS || claims.iat > nowS + 60) {
    return [claims, 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.'];
  }
  return [claims, null];
}

function issueToken(seconds) {
  const t = Date.now();
  if (accessTokens.size > 10000) {
    for (const [k, exp] of accessTokens) if (exp <= t) accessTokens.delete(k);
  }
  const tok = 'ya29.mock-' + crypto.randomBytes(24).toString('base64url');
  accessTokens.set(tok, t + seconds * 1000);
  return tok;
}

function tokenHandle(r) {
  const headers = JSON_HEADERS();
  headers['cache-control'] = 'no-cache, no-store, max-age=0, must-revalidate';
  const form = queryObject(r.body.toString('utf8'));
  const extra = config.record ? { form, jwt: peekJwt(form.assertion) } : null;
  r.key = null;
  if (r.method !== 'POST') {
    finish(r, 405, headers, oauthError('invalid_request', 'POST only.'), null, null, extra);
    return;
  }
  if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    finish(r, 400, headers, oauthError('unsupported_grant_type', `Invalid grant_type: ${form.grant_type || ''}`), null, null, extra);
    return;
  }
  const [claims, why] = checkAssertion(form.assertion);
  if (claims !== null && typeof claims.iss === 'string') r.key = claims.iss;
  if (why !== null) {
    finish(r, 400, headers, oauthError('invalid_grant', why), null, null, extra);
    return;
  }
  const sc = takeScript('fcm-token', r.key);
  const status = sc === null ? 200 : scriptStatus(sc, {}, 400);
  if (status >= 200 && status < 300) {
    const expiresIn = sc !== null && sc.expiresIn !== undefined ? sc.expiresIn : config.fcmTokenExpiresIn;
    const body = JSON.stringify({ access_token: issueToken(expiresIn), expires_in: expiresIn, token_type: 'Bearer' });
    finish(r, status, headers, body, null, sc, extra);
    return;
  }
  finish(r, status, headers, oauthError(sc.reason || 'invalid_grant', sc.message || 'scripted failure'), null, sc, extra);
}

// ----------------------------------------------------- webhooks and SMS --

function plainHandle(r, okBody) {
  const headers = { 'content-type': 'text/plain; charset=utf-8' };
  const sc = takeScript(r.kind, r.key);
  const status = sc === null ? 200 : scriptStatus(sc, {}, 500);
  let body = okBody;
  if (status < 200 || status >= 300) body = sc.reason || http.STATUS_CODES[status] || 'error';
  let extra = null;
  if (config.record) {
    extra = { query: queryObject(r.search) };
    const ct = r.headers['content-type'];
    if (typeof ct === 'string' && ct.startsWith('application/x-www-form-urlencoded')) {
      extra.form = queryObject(r.body.toString('utf8'));
    }
    if (r.kind === 'sms') extra.params = Object.assign({}, extra.query, extra.form || {});
  }
  finish(r, status, headers, body, undefined, sc, extra);
}

// ------------------------------------------------------------ control API --

function controlReply(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function portsInfo() {
  return Object.assign({}, ports, { pid: process.pid });
}

function control(req, res, u, body) {
  const what = u.pathname.slice('/__mock/'.length);
  const m = req.method;
  if (what === 'health' && m === 'GET') return controlReply(res, 200, { ok: true, pid: process.pid, record: config.record });
  if (what === 'ports' && m === 'GET') return controlReply(res, 200, portsInfo());
  if (what === 'stats' && m === 'GET') return controlReply(res, 200, stats);
  if (what === 'requests' && m === 'GET') {
    const q = u.searchParams;
    const kinds = q.get('kind') ? q.get('kind').split(',') : null;
    const key = q.get('key');
    const since = q.get('since') !== null ? Number(q.get('since')) : 0;
    const out = [];
    for (const rec of records) {
      if (rec.seq <= since) continue;
      if (kinds !== null && !kinds.includes(rec.kind)) continue;
      if (key !== null && rec.key !== key) continue;
      out.push(rec);
    }
    return controlReply(res, 200, out);
  }
  if (what === 'script' && m === 'GET') {
    const out = {};
    for (const k of KINDS) {
      out[k] = {};
      for (const [key, q] of scripts[k]) out[k][key] = q.map((e) => Object.assign({ left: e.left }, e.resp));
    }
    return controlReply(res, 200, out);
  }
  if (what === 'script' && m === 'POST') {
    let s;
    try { s = JSON.parse(body.toString('utf8')); } catch (e) { return controlReply(res, 400, { error: 'body is not JSON' }); }
    if (s === null || typeof s !== 'object') return controlReply(res, 400, { error: 'body must be an object' });
    if (!KINDS.includes(s.kind)) return controlReply(res, 400, { error: `kind must be one of ${KINDS.join(', ')}` });
    const key = s.key === undefined || s.key === null ? '*' : String(s.key);
    if (!Array.isArray(s.responses)) return controlReply(res, 400, { error: 'responses must be an array' });
    const entries = [];
    for (const resp of s.responses) {
      if (resp === null || typeof resp !== 'object' || Array.isArray(resp)) {
        return controlReply(res, 400, { error: 'each response must be an object' });
      }
      const e = Object.assign({}, resp);
      for (const f of ['status', 'delayMs', 'expiresIn']) {
        if (e[f] !== undefined && typeof e[f] !== 'number') e[f] = Number(e[f]);
      }
      e.drop = !!e.drop && e.drop !== '0';
      e.goaway = !!e.goaway && e.goaway !== '0';
      // times: how many requests this answer serves; -1 means all that follow
      let times = e.times === undefined ? 1 : Number(e.times);
      if (!(times > 0) && times !== -1) times = 1;
      delete e.times;
      entries.push({ resp: e, left: times });
    }
    const map = scripts[s.kind];
    if (s.replace) map.delete(key);
    if (entries.length > 0) {
      const q = map.get(key);
      if (q) q.push(...entries); else map.set(key, entries);
    }
    const q = map.get(key);
    return controlReply(res, 200, { ok: true, kind: s.kind, key, pending: q ? q.length : 0 });
  }
  if (what === 'reset' && m === 'POST') {
    records = [];
    stats = freshStats();
    scripts = freshScripts();
    generation++;
    if (u.searchParams.get('tokens')) accessTokens.clear();
    for (const ch of CHANNELS) ch.reset(!!u.searchParams.get('tokens'));
    return controlReply(res, 200, { ok: true });
  }
  if (what === 'config' && (m === 'POST' || m === 'GET')) {
    if (m === 'POST') {
      let c;
      try { c = JSON.parse(body.toString('utf8') || '{}'); } catch (e) { return controlReply(res, 400, { error: 'body is not JSON' }); }
      if (c.fcmTokenExpiresIn !== undefined) config.fcmTokenExpiresIn = Number(c.fcmTokenExpiresIn);
      if (c.record !== undefined) config.record = !!c.record;
      for (const ch of CHANNELS) ch.configure(c, config);
    }
    return controlReply(res, 200, config);
  }
  if (extControl[what]) return extControl[what](req, res, u, body);
  return controlReply(res, 404, { error: `no such control call: ${m} ${u.pathname}` });
}

// ---------------------------------------------------------------- servers --

const H1_BODY_LIMIT = 16 * 1024 * 1024;
const H2_BODY_LIMIT = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const CONN = Symbol('conn');
const sessions = new Set();
const sockets = new Set();
const ports = { apns: null, apns_tls: null, fcm: null, fcm_tls: null, http: null };

function noop() {}

// Reads a stream's body, then calls done(body, size). Past limit the bytes are
// counted but not kept.
function readBody(stream, limit, done) {
  let first = EMPTY;
  let chunks = null;
  let size = 0;
  stream.on('data', (c) => {
    size += c.length;
    if (size > limit) return;
    if (chunks !== null) chunks.push(c);
    else if (first.length === 0) first = c;
    else chunks = [first, c];
  });
  stream.on('end', () => done(chunks === null ? first : Buffer.concat(chunks), size));
}

// HTTP/2 streams share these handlers (no closures per request); the request
// object rides on the stream.
const REQ = Symbol('req');

function onH2Data(c) {
  const r = this[REQ];
  r.size += c.length;
  if (r.size > H2_BODY_LIMIT) return;
  if (r.chunks !== null) r.chunks.push(c);
  else if (r.body.length === 0) r.body = c;
  else r.chunks = [r.body, c];
}

function onH2End() {
  const r = this[REQ];
  if (r.chunks !== null) { r.body = Buffer.concat(r.chunks); r.chunks = null; }
  r.handle(r);
}

function onH2Close() { this[REQ].conn.active--; }

function h2Stream(kind, handle) {
  return (stream, headers) => {
    const conn = stream.session[CONN];
    stream[REQ] = {
      kind, handle, conn, stream, res: null, method: headers[':method'], path: headers[':path'],
      search: '', key: null, headers, body: EMPTY, chunks: null, size: 0, t: now(),
      streams: ++conn.active, json: undefined,
    };
    stream.on('close', onH2Close);
    stream.on('error', noop);
    stream.on('data', onH2Data);
    stream.on('end', onH2End);
  };
}

function h2Settings() {
  return {
    settings: { maxConcurrentStreams: 1000, enablePush: false },
    peerMaxConcurrentStreams: 100000,
    maxSessionMemory: 256,
  };
}

function trackSession(session, tls) {
  let cn = null;
  if (tls) {
    try {
      const cert = session.socket.getPeerCertificate();
      if (cert && cert.subject) cn = Array.isArray(cert.subject.CN) ? cert.subject.CN[0] : (cert.subject.CN || null);
    } catch (e) {
      cn = null;
    }
  }
  session[CONN] = newConn(tls, cn);
  session.on('error', noop);
  sessions.add(session);
  session.on('close', () => sessions.delete(session));
}

function makeH2(kind, handle, tls) {
  let srv;
  if (tls) {
    srv = http2.createSecureServer(Object.assign(h2Settings(), {
      cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey),
      requestCert: true, rejectUnauthorized: false, allowHTTP1: false,
      ALPNProtocols: ['h2'],
    }));
  } else {
    srv = http2.createServer(h2Settings());
  }
  srv.on('session', (s) => trackSession(s, tls));
  srv.on('stream', h2Stream(kind, handle));
  srv.on('sessionError', noop);
  srv.on('error', (e) => { process.stderr.write(`providers.js: ${kind} server: ${e.message}\n`); });
  return srv;
}

function route(u) {
  const p = u.pathname;
  for (const ch of CHANNELS) {
    const k = ch.route(u);
    if (k !== null) return k;
  }
  if (p.startsWith('/hook/')) return 'webhook';
  if (p.startsWith('/sms/')) return 'sms';
  if (p === '/fcm/token') return 'fcm-token';
  if (p.startsWith('/v1/projects/')) return 'fcm';
  return null;
}

function h1Request(req, res) {
  const t = now();
  let u;
  try { u = new URL(req.url, 'http://mock'); } catch (e) { u = null; }
  const kind = u === null ? null : route(u);
  const isControl = u !== null && u.pathname.startsWith('/__mock/');
  req.on('error', noop);
  readBody(req, H1_BODY_LIMIT, (body, size) => {
    if (isControl) { control(req, res, u, body); return; }
    if (kind === null) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const r = {
      kind, conn: req.socket[CONN], stream: null, res, method: req.method,
      path: req.url, search: u.search, key: null, headers: req.headers, body, size, t,
      streams: 1, json: undefined,
    };
    if (size > H1_BODY_LIMIT) {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('too large\n');
      return;
    }
    if (kind === 'webhook' || kind === 'sms') {
      r.key = u.pathname;
      plainHandle(r, kind === 'sms' ? 'OK' : 'ok');
    } else if (kind === 'fcm-token') tokenHandle(r);
    else if (CHANNEL_OF[kind]) CHANNEL_OF[kind].handle(r);
    else fcmHandle(r);
  });
}

function makeH1() {
  const srv = http.createServer(h1Request);
  srv.keepAliveTimeout = 60000;
  srv.headersTimeout = 65000;
  srv.requestTimeout = 0;
  srv.on('connection', (sock) => {
    sock[CONN] = newConn(false, null);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  srv.on('clientError', (e, sock) => { if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
  return srv;
}

function listen(srv) {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, opts.host, () => { srv.removeListener('error', reject); resolve(srv.address().port); });
  });
}

const servers = [];
const extControl = {};   // control calls of the extensions: /__mock/<name>

async function main() {
  for (const ch of CHANNELS) ch.init({ config, finish, takeScript, scriptStatus, queryObject });
  const apns = makeH2('apns', apnsHandle, false);
  const fcm = makeH2('fcm', fcmHandle, false);
  const h1 = makeH1();
  servers.push(apns, fcm, h1);
  let apnsTls = null, fcmTls = null;
  if (opts.tlsCert) {
    try {
      apnsTls = makeH2('apns', apnsHandle, true);
      fcmTls = makeH2('fcm', fcmHandle, true);
    } catch (e) {
      die(`cannot set up TLS: ${e.message}`);
    }
    servers.push(apnsTls, fcmTls);
  }
  ports.apns = await listen(apns);
  ports.fcm = await listen(fcm);
  ports.http = await listen(h1);
  if (apnsTls) ports.apns_tls = await listen(apnsTls);
  if (fcmTls) ports.fcm_tls = await listen(fcmTls);
  const helpers = { opts, config, now, newConn, takeScript, scriptStatus, finish, tryJson, listen,
    servers, sessions, ports, control: extControl };
  for (const x of extensions) await x.start(helpers);
  const info = JSON.stringify(portsInfo());
  if (opts.portsFile) {
    const tmp = `${opts.portsFile}.tmp.${process.pid}`;
    fs.writeFileSync(tmp, info + '\n');
    fs.renameSync(tmp, opts.portsFile);
  }
  process.stdout.write(`mock providers ready ${info}\n`);
}

let closing = false;
function shutdown() {
  if (closing) return;
  closing = true;
  for (const s of servers) s.close();
  for (const s of sessions) s.destroy();
  for (const s of sockets) s.destroy();
  process.exit(0);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// One odd request must not take the mock down in the middle of a test run.
process.on('uncaughtException', (e) => { process.stderr.write(`providers.js: ${e.stack || e}\n`); });

main().catch((e) => {
  process.stderr.write(`providers.js: ${e.stack || e}\n`);
  process.exit(1);
});
