/**
 * The key that signs registry JWTs: ECDSA P-256 (ES256), generated on first use and stored in the
 * database sealed under the server secret, so every node signs with the same key and the registry's
 * `rootcertbundle` (the self-signed certificate, `latchkey registry cert`) trusts all of them.
 * Loaded once per process; concurrent first uses share one load.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import type { Clock } from '../../kernel/clock.js';
import type { TokenGenerator } from '../../kernel/random.js';
import type { SecretBox } from '../../kernel/secret-box.js';
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

export interface SigningKeyDeps {
  keys: SigningKeyStore;
  secrets: SecretBox;
  clock: Clock;
  random: TokenGenerator;
}

const KEY_NAME = 'current';
const CERTIFICATE_YEARS = 10;
const COMMON_NAME = 'Latchkey registry token signer';

export type SigningKeyProvider = ReturnType<typeof createSigningKeyProvider>;

export function createSigningKeyProvider({ keys, secrets, clock, random }: SigningKeyDeps) {
  let loading: Promise<SigningKey> | null = null;

  function generate(): StoredSigningKey {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = clock.now();
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CERTIFICATE_YEARS);
    // A day of slack before "now" so a registry host whose clock runs behind still accepts the certificate.
    const notBefore = new Date(now.getTime() - 86_400_000);
    const certificatePem = selfSignedCertificate({ publicKey, privateKey, commonName: COMMON_NAME, serial: random.randomBytes(16), notBefore, notAfter });
    return {
      name: KEY_NAME,
      algorithm: 'ES256',
      kid: libtrustKeyId(publicKey),
      private_key_encrypted: secrets.seal(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
      certificate_pem: certificatePem,
      created_at: now.toISOString(),
    };
  }

  function open(row: StoredSigningKey): SigningKey {
    if (row.algorithm !== 'ES256') throw new Error(`unsupported registry signing key algorithm ${row.algorithm}`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(secrets.open(row.private_key_encrypted));
    } catch {
      throw new Error('the registry signing key cannot be decrypted: LATCHKEY_SECRET differs from the one it was stored with');
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
    const existing = await keys.find(KEY_NAME);
    return open(existing ?? (await keys.insertIfAbsent(generate())));
  }

  return {
    /** The signing key, generated and stored on the first call anywhere. */
    current(): Promise<SigningKey> {
      loading ??= load().catch((e: unknown) => {
        loading = null;
        throw e;
      });
      return loading;
    },
  };
}
