/**
 * Token wire format: `<prefix><body><checksum>`.
 *
 * The body is 20 random bytes (160 bits) in base62-ish url-safe alphabet; the checksum is the first
 * 6 characters of base62(CRC32(prefix + body)), so a secret scanner can tell a real token from noise
 * offline without asking the server. The checksum is not a secret and proves nothing about validity.
 */
import { crc32 } from './crc32.js';
import type { TokenGenerator } from '../kernel/random.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const RANDOM_BYTES = 20;
/** 20 bytes → 28 base62 characters (62^28 > 2^160). */
const BODY_LENGTH = 28;
const CHECKSUM_LENGTH = 6;

function toBase62(bytes: Uint8Array, length: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

function checksumOf(prefixAndBody: string): string {
  const c = crc32(Buffer.from(prefixAndBody, 'utf8'));
  const bytes = new Uint8Array([(c >>> 24) & 0xff, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff]);
  return toBase62(bytes, CHECKSUM_LENGTH);
}

/** Makes a new token value with the given kind prefix (e.g. `gldt-`). */
export function generateToken(prefix: string, random: TokenGenerator): string {
  const body = toBase62(random.randomBytes(RANDOM_BYTES), BODY_LENGTH);
  return prefix + body + checksumOf(prefix + body);
}

/**
 * True when `value` has the shape of a token with this prefix and its checksum matches. Used by
 * scanners and as a cheap pre-check before any digest is computed.
 */
export function hasValidChecksum(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix)) return false;
  const rest = value.slice(prefix.length);
  if (rest.length !== BODY_LENGTH + CHECKSUM_LENGTH) return false;
  for (const ch of rest) if (!ALPHABET.includes(ch)) return false;
  const body = rest.slice(0, BODY_LENGTH);
  return rest.slice(BODY_LENGTH) === checksumOf(prefix + body);
}
