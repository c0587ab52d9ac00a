/**
 * Token wire format: `<prefix><body><checksum>`.
 *
 * The body is 28 characters drawn uniformly from the 62-character alphabet (28 × log2(62) ≈ 166.7
 * random bits, each character by rejection sampling over CSPRNG bytes, so every position varies);
 * the checksum is 6 characters of base62(CRC32(prefix + body)), so a secret scanner can tell a real
 * token from noise offline without asking the server. The checksum is not a secret and proves
 * nothing about validity.
 */
import { crc32 } from './crc32.js';
import type { TokenGenerator } from '../kernel/random.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 28 uniform base62 characters: ≈166.7 bits, above the 160 the product requires. */
export const BODY_LENGTH = 28;
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

/**
 * `length` characters, each uniform over the alphabet: a byte's low 6 bits are used when below 62
 * and the byte is skipped otherwise (62 and 63 would bias towards the first characters).
 */
function randomBase62(random: TokenGenerator, length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of random.randomBytes(length * 2)) {
      const v = byte & 63;
      if (v < 62) out += ALPHABET[v];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Makes a new token value with the given kind prefix (e.g. `gldt-`). */
export function generateToken(prefix: string, random: TokenGenerator): string {
  const body = randomBase62(random, BODY_LENGTH);
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
