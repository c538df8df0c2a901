// Mint JWTs for the tests with node:crypto, good ones and forged ones.
import crypto from 'node:crypto';
import { SECRET } from './server.mjs';

export const b64url = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

export const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Sign `claims` (an object, or a raw string payload). Options:
 *   header      the JOSE header (default {alg:'HS256', typ:'JWT'}); an object or a raw string
 *   secret      the HMAC key (default the tests' secret)
 *   hmac        the digest used for the signature (default sha256)
 *   signature   a literal signature part instead of computing one ('' for alg:none)
 */
export function sign(claims, { header = { alg: 'HS256', typ: 'JWT' }, secret = SECRET, hmac = 'sha256', signature } = {}) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const sig = signature !== undefined ? signature : crypto.createHmac(hmac, secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** Claims of a valid attendee token of event `ev1` valid for an hour, overridden by `over`. */
export function claims(over = {}) {
  const sub = over.sub ?? 'u' + crypto.randomBytes(4).toString('hex');
  return {
    sub,
    name: over.name ?? `User ${sub}`,
    role: 'attendee',
    event: 'ev1',
    exp: nowS() + 3600,
    ...over,
  };
}

/** A valid token: token({sub:'alice', event:'ev2'}). */
export function token(over = {}, opts = {}) {
  return sign(claims(over), opts);
}

/** The same claims without `name` (for missing-claim tests). */
export function without(c, key) {
  const copy = { ...c };
  delete copy[key];
  return copy;
}
