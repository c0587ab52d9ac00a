/**
 * Builds a self-signed X.509 v3 certificate for the registry signing key, in pure Node: the registry's
 * `rootcertbundle` needs a PEM CERTIFICATE wrapping the public key (it only reads certificates).
 * Only the fields RFC 5280 requires; ECDSA P-256 with SHA-256 (the key Latchkey generates).
 */
import { sign, type KeyObject } from 'node:crypto';
import { bitString, explicit, nullValue, oid, sequence, set, smallInteger, time, unsignedInteger, utf8String } from './der.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';

export interface CertificateInput {
  publicKey: KeyObject;
  privateKey: KeyObject;
  commonName: string;
  /** 16 random bytes (from the injected generator); the top bit is cleared so the serial stays positive. */
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return sequence(oid(ECDSA_WITH_SHA256));
  if (key.asymmetricKeyType === 'rsa') return sequence(oid(SHA256_WITH_RSA), nullValue());
  throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
}

const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;

/** The certificate as PEM (one CERTIFICATE block). */
export function selfSignedCertificate(input: CertificateInput): string {
  const serial = Uint8Array.from(input.serial);
  serial[0] = serial[0]! & 0x7f;
  const name = sequence(set(sequence(oid(COMMON_NAME), utf8String(input.commonName))));
  const algorithm = signatureAlgorithm(input.privateKey);
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    algorithm,
    name, // issuer
    sequence(time(input.notBefore), time(input.notAfter)),
    name, // subject
    input.publicKey.export({ format: 'der', type: 'spki' }),
  );
  // ECDSA signatures in certificates are DER (r, s) sequences, which is node's default encoding.
  const signature = sign('sha256', tbs, input.privateKey);
  return pem('CERTIFICATE', sequence(tbs, algorithm, bitString(signature)));
}
