import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { createEs256Signer } from './compact-jws.js';
import { time } from './der.js';
import { libtrustKeyId } from './libtrust-kid.js';
import { formatScopes, MAX_SCOPES, parseScope, parseScopes, ScopeError } from './registry-scope.js';
import { selfSignedCertificate } from './self-signed-certificate.js';

describe('libtrust key id', () => {
  it("reproduces the distribution spec's example (jwt.md: the P-256 key and its kid)", () => {
    const key = createPublicKey({
      format: 'jwk',
      key: { kty: 'EC', crv: 'P-256', x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q', y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc' },
    });
    expect(libtrustKeyId(key)).toBe('PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6');
  });
});

describe('self-signed certificate', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const notBefore = new Date('2026-11-22T10:00:00Z');
  const notAfter = new Date('2036-11-23T10:00:00Z');
  // Top bit set: the serial must still come out positive.
  const serial = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xff : i));
  const pem = selfSignedCertificate({ publicKey, privateKey, commonName: 'Latchkey registry token signer', serial, notBefore, notAfter });
  const cert = new X509Certificate(pem);

  it('parses as X.509 with the subject, issuer, validity and key given, and verifies with its own key', () => {
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
    expect(cert.subject).toBe('CN=Latchkey registry token signer');
    expect(cert.issuer).toBe(cert.subject);
    expect(new Date(cert.validFrom).toISOString()).toBe(notBefore.toISOString());
    expect(new Date(cert.validTo).toISOString()).toBe(notAfter.toISOString());
    expect(cert.serialNumber).toBe('7F0102030405060708090A0B0C0D0E0F');
    expect(libtrustKeyId(cert.publicKey)).toBe(libtrustKeyId(publicKey));
    expect(cert.verify(publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBe(false);
  });

  it('uses UTCTime before 2050 and GeneralizedTime from 2050 (RFC 5280)', () => {
    expect(time(new Date('2049-12-31T23:59:59.900Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
  });
});

describe('registry scopes', () => {
  it('parses type:name:actions, with a host:port inside the name and a resource class', () => {
    expect(parseScope('repository:acme/web:pull,push')).toEqual({ type: 'repository', name: 'acme/web', actions: ['pull', 'push'] });
    expect(parseScope('repository:127.0.0.1:5000/acme/web:pull')).toEqual({ type: 'repository', name: '127.0.0.1:5000/acme/web', actions: ['pull'] });
    expect(parseScope('repository(plugin):acme/web:pull')).toMatchObject({ type: 'repository', name: 'acme/web' });
    expect(parseScope('registry:catalog:*')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
  });

  it('refuses what is not a scope', () => {
    for (const bad of ['', 'repository', 'repository:acme/web', ':acme:pull', 'repository::pull', 'Repo:acme:pull', 'repository:acme:pull;rm', 'repository:a/\u0000b:pull', 'repository:a b:pull', `repository:${'a'.repeat(1025)}:pull`]) {
      expect(() => parseScope(bad), bad).toThrow(ScopeError);
    }
  });

  it('merges repeated and space-separated scopes per resource, and caps how many a request may carry', () => {
    expect(parseScopes(['repository:a/b:pull,push', 'repository:a/b:pull repository:a/c:pull'])).toEqual([
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'repository', name: 'a/c', actions: ['pull'] },
    ]);
    expect(parseScopes([])).toEqual([]);
    expect(() => parseScopes(Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `repository:a/p${i}:pull`))).toThrow(/at most/);
  });

  it('formats granted access as an OAuth2 scope string, leaving out resources granted nothing', () => {
    expect(formatScopes([{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }, { type: 'repository', name: 'a/c', actions: [] }])).toBe('repository:a/b:pull,push');
  });
});

describe('ES256 compact JWS', () => {
  it('produces tokens jose verifies with the public key (raw r‖s signature, header as given)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwt = createEs256Signer(privateKey, { typ: 'JWT', kid: 'AAAA' }).sign({ iss: 'latchkey', access: [] });
    expect(decodeProtectedHeader(jwt)).toEqual({ typ: 'JWT', kid: 'AAAA', alg: 'ES256' });
    expect(Buffer.from(jwt.split('.')[2]!, 'base64url')).toHaveLength(64);
    const { payload } = await compactVerify(jwt, publicKey);
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ iss: 'latchkey', access: [] });
    await expect(compactVerify(jwt, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).rejects.toThrow();
  });
  it('refuses keys that are not P-256', () => {
    expect(() => createEs256Signer(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, {})).toThrow(/P-256/);
    expect(() => createEs256Signer(generateKeyPairSync('ed25519').privateKey, {})).toThrow(/P-256/);
  });
});
