/**
 * Password hashing for human users' web UI passwords (scrypt, per-user salt from the injected
 * generator). The async forms run scrypt on libuv's thread pool, so a sign-in never blocks the event
 * loop; the sync ones remain for callers outside a request path.
 */
import { scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { TokenGenerator } from '../kernel/random.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** GitLab's default minimum is 8; the upper bound keeps hashing cost bounded. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** Why a password is refused (a field message, `password <reason>`), or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `is too short (minimum is ${PASSWORD_MIN_LENGTH} characters)`;
  if (password.length > PASSWORD_MAX_LENGTH) return `is too long (maximum is ${PASSWORD_MAX_LENGTH} characters)`;
  return null;
}

const encode = (salt: Buffer, hash: Buffer) => `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;

function decode(stored: string): { salt: Buffer; hash: Buffer } | null {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return null;
  return { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

export function hashPassword(password: string, random: TokenGenerator): string {
  const salt = Buffer.from(random.randomBytes(16));
  return encode(salt, scryptSync(password, salt, 32));
}

export function verifyPassword(password: string, stored: string): boolean {
  const parts = decode(stored);
  if (!parts) return false;
  return timingSafeEqual(scryptSync(password, parts.salt, parts.hash.length), parts.hash);
}

export async function hashPasswordAsync(password: string, random: TokenGenerator): Promise<string> {
  const salt = Buffer.from(random.randomBytes(16));
  return encode(salt, await scryptAsync(password, salt, 32));
}

export async function verifyPasswordAsync(password: string, stored: string): Promise<boolean> {
  const parts = decode(stored);
  if (!parts) return false;
  return timingSafeEqual(await scryptAsync(password, parts.salt, parts.hash.length), parts.hash);
}
