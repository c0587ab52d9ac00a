/**
 * Encrypts secrets that must be read back (webhook signing secrets, the `gitlab-deploy-token` handed to
 * CI), so they cannot be digested like tokens: AES-256-GCM under a key derived (HKDF-SHA256) from the
 * server secret, one key per purpose, so a database dump alone reveals none of them and a sealed value
 * of one purpose never opens as another.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** `purpose` is the HKDF info string; changing it for stored data makes that data unreadable. */
export function createSecretBox(serverSecret: string, purpose: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', serverSecret, 'latchkey', purpose, 32));
  return {
    seal(plain) {
      // A fresh 96-bit nonce per seal (GCM's requirement), not a token: it need not come from the injected generator.
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
    },
    open(sealed) {
      const [version, iv, tag, ciphertext] = sealed.split(':');
      if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('unknown sealed secret format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
