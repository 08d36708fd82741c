// njs for the authenticated rows of nginx-njs.conf: check the credential the way bench.yaml's
// /dashboard-jwt and /dashboard-key routes make our gateway check it, answer 401 without one, then
// aggregate exactly as aggregate.js's /dashboard does.
//
// credentials.js is written by run.sh into the run's temp dir (js_path) with the keys it generated:
// { hs256: { kid, secret }, es256: { kid, spki }, apiKeys: { <sha256 hex of the key>: <client> } }.
// Module code runs once when nginx loads the configuration, so the keys are decoded once; a
// CryptoKey cannot be kept across requests in njs 0.7 (each request runs in a fresh VM clone), so
// every request imports its key and verifies the signature.
import agg from 'aggregate.js';
import credentials from 'credentials.js';
import hashes from 'crypto';

const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

// The key a token's kid names, with the one algorithm it accepts, as bench.yaml pins them.
const jwtKeys = {};
jwtKeys[credentials.hs256.kid] = {
  alg: 'HS256', format: 'raw', data: Buffer.from(credentials.hs256.secret),
  importAs: { name: 'HMAC', hash: 'SHA-256' }, verifyAs: { name: 'HMAC' },
};
jwtKeys[credentials.es256.kid] = {
  alg: 'ES256', format: 'spki', data: Buffer.from(credentials.es256.spki, 'base64'),
  importAs: { name: 'ECDSA', namedCurve: 'P-256' }, verifyAs: { name: 'ECDSA', hash: 'SHA-256' },
};

function unauthorized(r, challenge) {
  if (challenge) { r.headersOut['WWW-Authenticate'] = challenge; }
  r.headersOut['Content-Type'] = 'application/problem+json';
  r.return(401, '{"status":401,"title":"Unauthorized"}');
}

function decodeJSON(part) {
  try { return JSON.parse(Buffer.from(part, 'base64url').toString()); } catch (e) { return null; }
}

// True when the bearer token is signed by the key its kid names, with that key's algorithm, and
// its exp has not passed. A JOSE ES256 signature is r||s, the form WebCrypto's ECDSA verifies.
async function validBearer(r) {
  const authorization = r.headersIn.Authorization || '';
  if (!authorization.startsWith('Bearer ')) { return false; }
  const parts = authorization.slice(7).split('.');
  if (parts.length !== 3) { return false; }
  const header = decodeJSON(parts[0]), claims = decodeJSON(parts[1]);
  if (!header || !claims || typeof header.kid !== 'string' || !has(jwtKeys, header.kid)) { return false; }
  const key = jwtKeys[header.kid];
  if (header.alg !== key.alg) { return false; }
  if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) { return false; }
  try {
    const cryptoKey = await crypto.subtle.importKey(key.format, key.data, key.importAs, false, ['verify']);
    return await crypto.subtle.verify(key.verifyAs, cryptoKey, Buffer.from(parts[2], 'base64url'), Buffer.from(parts[0] + '.' + parts[1]));
  } catch (e) {
    return false;
  }
}

async function dashboardJwt(r) {
  if (!(await validBearer(r))) { return unauthorized(r, 'Bearer'); }
  return agg.dashboard(r);
}

// The key is looked up by its SHA-256, as our gateway's keys file stores it; the location's
// limit_req zones count the request before this runs.
function dashboardKey(r) {
  const key = r.headersIn['X-Api-Key'];
  if (!key || !has(credentials.apiKeys, hashes.createHash('sha256').update(key).digest('hex'))) { return unauthorized(r); }
  return agg.dashboard(r);
}

export default { dashboardJwt, dashboardKey };
