/**
 * A minimal ASN.1 DER encoder: just the types a self-signed X.509 certificate needs (SEQUENCE, SET,
 * INTEGER, OID, UTF8String, UTCTime/GeneralizedTime, BIT STRING, NULL, explicit context tags).
 * Node can parse certificates (X509Certificate) but not build them; this avoids a dependency.
 */

/** A DER element: tag byte, definite length, contents. */
function element(tag: number, contents: Uint8Array): Buffer {
  const length = contents.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(header), contents]);
}

export const sequence = (...items: Uint8Array[]): Buffer => element(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => element(0x31, Buffer.concat(items));
export const nullValue = (): Buffer => element(0x05, Buffer.alloc(0));
export const utf8String = (text: string): Buffer => element(0x0c, Buffer.from(text, 'utf8'));
/** `[n] EXPLICIT`: a constructed context-specific tag around one element. */
export const explicit = (n: number, inner: Uint8Array): Buffer => element(0xa0 | n, inner);
/** A BIT STRING with no unused bits (signatures, public keys). */
export const bitString = (bytes: Uint8Array): Buffer => element(0x03, Buffer.concat([Buffer.from([0]), bytes]));

/** A non-negative INTEGER from big-endian bytes (leading zeros trimmed, a 0x00 added when the top bit is set). */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = Buffer.from(bytes.subarray(start));
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return element(0x02, body);
}

export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`integer out of range: ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(Uint8Array.from(bytes));
}

/** OBJECT IDENTIFIER from dotted form ("1.2.840.10045.4.3.2"). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isInteger(a) || a < 0)) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return element(0x06, Uint8Array.from(out));
}

/** X.509 Time: UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5); whole seconds, Z. */
export function time(at: Date): Buffer {
  const iso = at.toISOString(); // 2026-11-23T10:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20261123100000
  const year = at.getUTCFullYear();
  if (year >= 1950 && year < 2050) return element(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return element(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}
