/**
 * The key id Docker's registry 2.x derives from a trusted certificate's public key (docker/libtrust):
 * SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, RFC 4648 base32 without padding, in twelve
 * groups of four joined by ':'. A JWT's `kid` must match it exactly for the registry to trust the key.
 */
import { createHash, type KeyObject } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

export function libtrustKeyId(publicKey: KeyObject): string {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const digest = createHash('sha256').update(spki).digest().subarray(0, 30);
  return base32(digest).match(/.{4}/g)!.join(':');
}
