/**
 * The key that signs registry JWTs: ECDSA P-256 (ES256), generated on first use and stored in the
 * database sealed under the server secret, so every node signs with the same key and the registry's
 * `rootcertbundle` (the self-signed certificates, `latchkey registry cert`) trusts all of them.
 *
 * Rotation without downtime, in two steps, because the registry reads its bundle only at start:
 * `stage()` generates the next key (row `next`), which joins the bundle but signs nothing yet; once the
 * registry runs with that bundle, `activate()` makes it `current` and retires the old one (row
 * `retired-<kid>`, `retired_at`). A retired key's certificate stays in the bundle until every JWT it
 * may have signed has expired: the JWT lifetime plus the time other nodes take to notice the switch.
 *
 * Each process keeps the current key and re-reads which key is current every `reloadMs` (10 s), so
 * every node signs with the new key within that time of an activation.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import type { Clock } from '../../kernel/clock.js';
import type { TokenGenerator } from '../../kernel/random.js';
import type { SecretBox } from '../../kernel/secret-box.js';
import { conflict } from '../../kernel/errors.js';
import { createEs256Signer, type Es256Signer } from './compact-jws.js';
import { libtrustKeyId } from './libtrust-kid.js';
import { selfSignedCertificate } from './self-signed-certificate.js';
import type { SigningKeyStore, StoredSigningKey } from './signing-key-store.js';

export interface SigningKey {
  readonly algorithm: 'ES256';
  readonly privateKey: KeyObject;
  /** libtrust key id (registry 2.x matches it against the bundle's certificates). */
  readonly kid: string;
  /** PEM of the self-signed certificate: what the registry's rootcertbundle holds. */
  readonly certificatePem: string;
  /** The JWT `x5c` header: the certificate as standard base64 DER (registry 2.x and 3.x both verify it). */
  readonly x5c: readonly string[];
  /** Signs JWT claims with this key; the header names it by `kid` and `x5c`. */
  readonly signer: Es256Signer;
}

/** A certificate of the bundle and why it is there. */
export interface BundledCertificate {
  readonly role: 'current' | 'next' | 'retired';
  readonly kid: string;
  readonly certificatePem: string;
  readonly createdAt: string;
  /** When it stopped signing (retired keys). */
  readonly retiredAt: string | null;
  /** When it leaves the bundle (retired keys): every JWT it signed has expired by then. */
  readonly bundledUntil: string | null;
}

export interface SigningKeyDeps {
  keys: SigningKeyStore;
  secrets: SecretBox;
  clock: Clock;
  random: TokenGenerator;
  /** Seconds a JWT is valid (LATCHKEY_REGISTRY_TOKEN_LIFETIME): how long a retired key stays in the bundle. */
  tokenLifetimeSeconds?: number;
  /** How often a process re-reads which key is current. */
  reloadMs?: number;
}

const CURRENT = 'current';
const NEXT = 'next';
const CERTIFICATE_YEARS = 10;
const COMMON_NAME = 'Latchkey registry token signer';

export type SigningKeyProvider = ReturnType<typeof createSigningKeyProvider>;

export function createSigningKeyProvider({ keys, secrets, clock, random, tokenLifetimeSeconds = 86_400, reloadMs = 10_000 }: SigningKeyDeps) {
  let loading: { readonly key: Promise<SigningKey>; readonly at: number } | null = null;

  function generate(name: string): StoredSigningKey {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = clock.now();
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CERTIFICATE_YEARS);
    // A day of slack before "now" so a registry host whose clock runs behind still accepts the certificate.
    const notBefore = new Date(now.getTime() - 86_400_000);
    const certificatePem = selfSignedCertificate({ publicKey, privateKey, commonName: COMMON_NAME, serial: random.randomBytes(16), notBefore, notAfter });
    return {
      name,
      algorithm: 'ES256',
      kid: libtrustKeyId(publicKey),
      private_key_encrypted: secrets.seal(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
      certificate_pem: certificatePem,
      created_at: now.toISOString(),
      retired_at: null,
    };
  }

  function open(row: StoredSigningKey): SigningKey {
    if (row.algorithm !== 'ES256') throw new Error(`unsupported registry signing key algorithm ${row.algorithm}`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(secrets.open(row.private_key_encrypted));
    } catch {
      throw new Error('the registry signing key cannot be decrypted: LATCHKEY_SECRET differs from the one it was stored with (add that one to LATCHKEY_SECRET_PREVIOUS)');
    }
    const certificate = new X509Certificate(row.certificate_pem);
    // The stored certificate must wrap the stored key, or the registry would refuse every token.
    if (libtrustKeyId(createPublicKey(privateKey)) !== row.kid || libtrustKeyId(certificate.publicKey) !== row.kid) {
      throw new Error('the stored registry signing key does not match its certificate');
    }
    const x5c = [certificate.raw.toString('base64')];
    const signer = createEs256Signer(privateKey, { typ: 'JWT', alg: 'ES256', kid: row.kid, x5c });
    return { algorithm: 'ES256', privateKey, kid: row.kid, certificatePem: row.certificate_pem, x5c, signer };
  }

  async function load(): Promise<SigningKey> {
    const existing = await keys.find(CURRENT);
    return open(existing ?? (await keys.insertIfAbsent(generate(CURRENT))));
  }

  /** A retired key signed JWTs until `retiredAt` (plus a reload on the slowest node); each lives `tokenLifetimeSeconds`. */
  const bundledUntil = (retiredAt: string) => new Date(Date.parse(retiredAt) + reloadMs + tokenLifetimeSeconds * 1000).toISOString();

  return {
    /** The signing key, generated and stored on the first call anywhere; re-read every `reloadMs`. */
    current(): Promise<SigningKey> {
      const now = clock.now().getTime();
      if (loading !== null && now - loading.at < reloadMs) return loading.key;
      const held = loading;
      const fresh = load();
      // While the database cannot answer a reload, signing goes on with the key in hand.
      const entry = { key: held ? fresh.catch(() => held.key) : fresh, at: now };
      loading = entry;
      fresh.catch(() => {
        if (loading === entry && held === null) loading = null; // a first load that failed is retried at once
      });
      return entry.key;
    },

    /** Generates the next key (or returns the one already staged); it joins the bundle but signs nothing yet. */
    async stage(): Promise<SigningKey> {
      await this.current();
      return open((await keys.find(NEXT)) ?? (await keys.insertIfAbsent(generate(NEXT))));
    },

    /** The staged key signs from now on; the current one is retired. 409 when nothing is staged. */
    async activate(): Promise<{ current: SigningKey; retired: BundledCertificate }> {
      const next = await keys.find(NEXT);
      if (!next) throw conflict('no registry signing key is staged: run `latchkey registry rotate-key` first', 'NO_STAGED_KEY');
      const key = open(next);
      await this.current();
      const retiredAt = clock.now().toISOString();
      const old = await keys.promoteNext(retiredAt);
      loading = null;
      return {
        current: key,
        retired: { role: 'retired', kid: old.kid, certificatePem: old.certificate_pem, createdAt: old.created_at, retiredAt, bundledUntil: bundledUntil(retiredAt) },
      };
    },

    /** Every certificate the registry must trust now: current, staged, and retired ones whose JWTs may still be valid. */
    async bundle(): Promise<BundledCertificate[]> {
      await this.current();
      const now = clock.now().toISOString();
      const rows = await keys.all();
      const out: BundledCertificate[] = [];
      for (const row of rows) {
        const role = row.name === CURRENT ? 'current' : row.name === NEXT ? 'next' : 'retired';
        const until = row.retired_at ? bundledUntil(row.retired_at) : null;
        if (role === 'retired' && (until === null || until <= now)) continue;
        out.push({ role, kid: row.kid, certificatePem: row.certificate_pem, createdAt: row.created_at, retiredAt: row.retired_at, bundledUntil: until });
      }
      const order = { current: 0, next: 1, retired: 2 } as const;
      return out.sort((a, b) => order[a.role] - order[b.role] || b.createdAt.localeCompare(a.createdAt));
    },
  };
}
