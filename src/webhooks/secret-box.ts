/**
 * Encrypts webhook signing secrets at rest. They must be read back to sign every delivery, so they
 * cannot be digested like tokens: AES-256-GCM under a key derived (HKDF-SHA256) from the server secret,
 * so a database dump alone reveals no signing secret.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** `purpose` separates the derived keys of different uses (HKDF info); webhooks keep the original one. */
export function createSecretBox(serverSecret: string, purpose = 'webhook signing secret v1'): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', serverSecret, 'latchkey', purpose, 32));
  return {
    seal(plain) {
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
