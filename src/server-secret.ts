/**
 * The server secret (HMAC key for token digests): LATCHKEY_SECRET(_FILE) when set, else a file in the
 * data dir, generated on first start with mode 0600. Losing it makes every issued token unverifiable.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenGenerator } from './kernel/random.js';

export function resolveServerSecret(configured: string | null, dataDir: string, random: TokenGenerator): { secret: string; generated: boolean } {
  if (configured) return { secret: configured, generated: false };
  const file = join(dataDir, 'server-secret');
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length < 32) throw new Error(`${file} holds fewer than 32 characters; restore it from backup or remove it to generate a new one (every issued token stops working)`);
    return { secret, generated: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = Buffer.from(random.randomBytes(32)).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, generated: true };
}
