'use strict';
// Windows Push Notification Services, on the mock's HTTP/1.1 port (see README.md):
//
//   POST /wns/token      the OAuth token endpoint (client credentials), kind "wns-token"
//   POST /wns/<channel>  a channel URI, kind "wns": checks the bearer token, X-WNS-Type,
//                        the content type and that the XML is well formed
//
// providers.js loads this file and hands it its helpers (init); the kinds below join
// its recordings, statistics and scripts.

const crypto = require('crypto');

const kinds = ['wns', 'wns-token'];
const TYPES = { 'wns/toast': 'toast', 'wns/tile': 'tile', 'wns/badge': 'badge', 'wns/raw': null };
const SCOPES = new Set(['notify.windows.com', 'https://wns.windows.com/.default']);
const MAX_PAYLOAD = 5000;

const tokens = new Map();   // issued access token -> expiry (ms epoch)
let h = null;               // providers.js's helpers

function init(helpers) {
  h = helpers;
  const c = h.config;
  if (c.wnsTokenExpiresIn === undefined) c.wnsTokenExpiresIn = 86400;
  if (c.wnsClientId === undefined) c.wnsClientId = null;         // null: any client id
  if (c.wnsClientSecret === undefined) c.wnsClientSecret = null; // null: any secret
}

// POST /__mock/config fields of ours.
function configure(body, config) {
  for (const k of ['wnsClientId', 'wnsClientSecret']) {
    if (body[k] !== undefined) config[k] = body[k] === null ? null : String(body[k]);
  }
  if (body.wnsTokenExpiresIn !== undefined) config.wnsTokenExpiresIn = Number(body.wnsTokenExpiresIn);
}

function reset(forgetTokens) {
  if (forgetTokens) tokens.clear();
}

function route(u) {
  if (u.pathname === '/wns/token') return 'wns-token';
  if (u.pathname.startsWith('/wns/')) return 'wns';
  return null;
}

function oauthError(error, description) {
  return JSON.stringify({ error, error_description: description });
}

function issue(seconds) {
  const t = Date.now();
  if (tokens.size > 10000) {
    for (const [k, exp] of tokens) if (exp <= t) tokens.delete(k);
  }
  const tok = 'EgAcAQMAAAAALYAAY/mock-' + crypto.randomBytes(24).toString('base64url');
  tokens.set(tok, t + seconds * 1000);
  return tok;
}

function tokenHandle(r) {
  const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  const form = h.queryObject(r.body.toString('utf8'));
  const extra = h.config.record ? { form } : null;
  const c = h.config;
  r.key = typeof form.client_id === 'string' ? form.client_id : null;
  const refuse = (status, error, why) => h.finish(r, status, headers, oauthError(error, why), null, null, extra);
  if (r.method !== 'POST') return refuse(405, 'invalid_request', 'POST only.');
  if (form.grant_type !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 'client_credentials only.');
  if (!form.client_id || !form.client_secret) return refuse(400, 'invalid_request', 'client_id and client_secret are required.');
  if (!SCOPES.has(form.scope)) return refuse(400, 'invalid_scope', `Unknown scope ${form.scope || ''}.`);
  if ((c.wnsClientId !== null && form.client_id !== c.wnsClientId) ||
      (c.wnsClientSecret !== null && form.client_secret !== c.wnsClientSecret)) {
    return refuse(400, 'invalid_client', 'Invalid client id or secret.');
  }
  const sc = h.takeScript('wns-token', r.key);
  const status = sc === null ? 200 : h.scriptStatus(sc, {}, 400);
  if (status >= 200 && status < 300) {
    const expiresIn = sc !== null && sc.expiresIn !== undefined ? sc.expiresIn : c.wnsTokenExpiresIn;
    const body = JSON.stringify({ token_type: 'bearer', access_token: issue(expiresIn), expires_in: expiresIn });
    return h.finish(r, status, headers, body, null, sc, extra);
  }
  return h.finish(r, status, headers, oauthError(sc.reason || 'invalid_client', sc.message || 'scripted failure'),
    null, sc, extra);
}

// Whether text is well-formed XML with root element root, as far as a mock needs to
// know: balanced tags, quoted attributes, no stray '<' or '&', one root.
function xmlProblem(text, root) {
  const tag = /<(\/?)([A-Za-z][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  const entity = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/y;
  const stack = [];
  let i = 0, roots = 0;
  const attrsOk = (a) => {
    const values = a.match(/"[^"]*"|'[^']*'/g) || [];
    for (const v of values) {
      for (let k = v.indexOf('&'); k >= 0; k = v.indexOf('&', k + 1)) {
        entity.lastIndex = k;
        if (!entity.test(v)) return false;
      }
    }
    return true;
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === '<') {
      tag.lastIndex = i;
      const m = tag.exec(text);
      if (m === null) return `malformed tag at ${i}`;
      if (!attrsOk(m[3])) return `an attribute has a bare '&' at ${i}`;
      if (m[1]) {
        if (stack.pop() !== m[2]) return `</${m[2]}> closes nothing open at ${i}`;
      } else {
        if (stack.length === 0 && ++roots > 1) return 'more than one root element';
        if (stack.length === 0 && m[2] !== root) return `the root is <${m[2]}>, not <${root}>`;
        if (!m[4]) stack.push(m[2]);
      }
      i = tag.lastIndex;
    } else if (ch === '&') {
      entity.lastIndex = i;
      if (!entity.test(text)) return `a bare '&' at ${i}`;
      i = entity.lastIndex;
    } else if (ch === '>') {
      return `a bare '>' at ${i}`;
    } else {
      if (stack.length === 0 && !/\s/.test(ch)) return `text outside the root at ${i}`;
      i++;
    }
  }
  if (stack.length > 0) return `<${stack[stack.length - 1]}> is not closed`;
  if (roots === 0) return 'no root element';
  return null;
}

function channelHandle(r) {
  const headers = { 'content-type': 'text/plain' };
  const q = r.path.indexOf('?');
  r.key = q < 0 ? r.path : r.path.slice(0, q);
  const type = r.headers['x-wns-type'];
  const ct = String(r.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  const body = r.body.toString('utf8');
  const extra = h.config.record ? { query: h.queryObject(r.search), wnsType: type || null, xmlError: null } : null;
  const refuse = (status, why) => {
    headers['x-wns-error-description'] = why;
    h.finish(r, status, headers, '', null, null, extra);
  };
  if (r.method !== 'POST') return refuse(405, 'POST only');
  const auth = String(r.headers.authorization || '');
  const tok = auth.slice(0, 7).toLowerCase() === 'bearer ' ? auth.slice(7) : null;
  const exp = tok === null ? undefined : tokens.get(tok);
  if (exp === undefined || exp <= Date.now()) return refuse(401, 'no valid access token');
  if (!Object.prototype.hasOwnProperty.call(TYPES, type)) return refuse(400, 'X-WNS-Type is missing or unknown');
  const root = TYPES[type];
  if (ct !== (root === null ? 'application/octet-stream' : 'text/xml')) return refuse(400, `wrong Content-Type ${ct}`);
  if (r.size > MAX_PAYLOAD) return refuse(413, 'payload too large');
  if (root !== null) {
    const why = xmlProblem(body, root);
    if (extra) extra.xmlError = why;
    if (why !== null) return refuse(400, `bad XML: ${why}`);
  }
  const sc = h.takeScript('wns', r.key);
  const status = sc === null ? 200 : h.scriptStatus(sc, {}, 400);
  headers['x-wns-msg-id'] = crypto.randomBytes(8).toString('hex').toUpperCase();
  headers['ms-cv'] = crypto.randomBytes(6).toString('base64');
  if (status === 200) {
    headers['x-wns-status'] = 'received';
    headers['x-wns-deviceconnectionstatus'] = 'connected';
  } else if (status === 406) {
    headers['x-wns-status'] = 'channelthrottled';
  } else if (status === 410) {
    headers['x-wns-status'] = 'dropped';
  }
  return h.finish(r, status, headers, sc !== null && sc.reason && status !== 200 ? sc.reason : '', null, sc, extra);
}

function handle(r) {
  if (r.kind === 'wns-token') tokenHandle(r);
  else channelHandle(r);
}

module.exports = { kinds, init, configure, reset, route, handle, xmlProblem };
