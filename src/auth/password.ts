/** Password hashing for human users (scrypt, per-user salt from the injected generator). */
import { scryptSync, timingSafeEqual } from 'node:crypto';
import type { TokenGenerator } from '../kernel/random.js';

export function hashPassword(password: string, random: TokenGenerator): string {
  const salt = Buffer.from(random.randomBytes(16));
  const hash = scryptSync(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}
