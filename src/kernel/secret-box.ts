/**
 * Encrypts secrets that must be read back (webhook signing secrets, the `gitlab-deploy-token` handed to
 * CI), so they cannot be digested like tokens: AES-256-GCM under a key derived (HKDF-SHA256) from the
 * server secret, one key per purpose, so a database dump alone reveals none of them and a sealed value
 * of one purpose never opens as another.
 *
 * Key ring: given several server secrets (newest first: LATCHKEY_SECRET, then LATCHKEY_SECRET_PREVIOUS),
 * it seals under the newest and opens under whichever one the value was sealed with (GCM's tag refuses
 * every other key, so trying them in turn is safe). `reseal` moves a value to the newest key
 * (`latchkey secret reseal`), after which an old secret can be dropped.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
  /** The value sealed under the newest key, or null when it already is (throws when no key opens it). */
  reseal(sealed: string): string | null;
}

/** The server secret, or the ring of them, newest first. */
export type ServerSecrets = string | readonly string[];

export function ringOf(secrets: ServerSecrets): readonly string[] {
  const ring = typeof secrets === 'string' ? [secrets] : secrets;
  if (ring.length === 0) throw new Error('no server secret');
  return ring;
}

function openWith(key: Buffer, sealed: string): string {
  const [version, iv, tag, ciphertext] = sealed.split(':');
  if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('unknown sealed secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/** `purpose` is the HKDF info string; changing it for stored data makes that data unreadable. */
export function createSecretBox(serverSecrets: ServerSecrets, purpose: string): SecretBox {
  const keys = ringOf(serverSecrets).map((secret) => Buffer.from(hkdfSync('sha256', secret, 'latchkey', purpose, 32)));
  const newest = keys[0]!;
  function seal(plain: string): string {
    // A fresh 96-bit nonce per seal (GCM's requirement), not a token: it need not come from the injected generator.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', newest, iv);
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
  }
  /** The plain value and the index of the key that opened it. */
  function openIndexed(sealed: string): { plain: string; index: number } {
    let failure: unknown;
    for (const [index, key] of keys.entries()) {
      try {
        return { plain: openWith(key, sealed), index };
      } catch (e) {
        if ((e as Error).message === 'unknown sealed secret format') throw e;
        failure = e;
      }
    }
    throw failure;
  }
  return {
    seal,
    open: (sealed) => openIndexed(sealed).plain,
    reseal(sealed) {
      const { plain, index } = openIndexed(sealed);
      return index === 0 ? null : seal(plain);
    },
  };
}
