/**
 * The secret a placement holds, read out of what is configured there in its format: the value itself
 * (`raw`), the password of `DOCKER_AUTH_CONFIG` JSON for the placement's registry (`docker_auth_config`),
 * of a `.netrc` line (`netrc`) or of `user:password` (`user_password`). Pure; null when the value is not
 * in that format (or names another registry or user). `valueForPlacement` is its inverse: the value to
 * write so that the placement holds a new secret, keeping what else the current value holds.
 */
import type { PlacementFields } from '../inventory/credential.js';

function fromDockerAuthConfig(value: string, registry: string | null, username: string | null): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const auths = (parsed as { auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown }> } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) return null;
  const entry = registry !== null ? auths[registry] : Object.values(auths)[0];
  if (!entry) return null;
  let user: unknown = entry.username;
  let password: unknown = entry.password;
  if (typeof entry.auth === 'string') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    user = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (typeof password !== 'string' || (username !== null && user !== username)) return null;
  return password;
}

function fromNetrc(value: string, username: string | null): string | null {
  const words = value.split(/\s+/).filter(Boolean);
  let login: string | null = null;
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === 'login') login = words[i + 1]!;
    if (words[i] === 'password' && (username === null || login === username)) return words[i + 1]!;
  }
  return null;
}

export function secretHeldBy(placement: Pick<PlacementFields, 'format' | 'registry' | 'username'>, value: string): string | null {
  switch (placement.format ?? 'raw') {
    case 'raw':
      return value;
    case 'docker_auth_config':
      return fromDockerAuthConfig(value, placement.registry, placement.username);
    case 'netrc':
      return fromNetrc(value, placement.username);
    case 'user_password': {
      const colon = value.indexOf(':');
      if (colon < 0 || (placement.username !== null && value.slice(0, colon) !== placement.username)) return null;
      return value.slice(colon + 1);
    }
    default:
      return null;
  }
}

/** The user name written when neither the placement nor the current value names one (GitLab accepts any for a token). */
const DEFAULT_USERNAME = 'oauth2';

type PlacementFormatFields = Pick<PlacementFields, 'format' | 'registry' | 'username' | 'instance'>;

function userOfDockerEntry(entry: Record<string, unknown>): string | null {
  if (typeof entry.auth === 'string') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon > 0 ? decoded.slice(0, colon) : null;
  }
  // A name with a colon cannot go into `auth` (the reader splits at the first one).
  return typeof entry.username === 'string' && /^[^:]+$/.test(entry.username) ? entry.username : null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `DOCKER_AUTH_CONFIG` with the registry's `auth` set (other registries and keys kept; a plain `password` there dropped). */
function toDockerAuthConfig(placement: PlacementFormatFields, secret: string, current: string | null): string {
  let config: Record<string, unknown> = {};
  try {
    const parsed: unknown = current === null ? null : JSON.parse(current);
    if (isObject(parsed)) config = parsed;
  } catch {
    // Not JSON: the value is replaced by a new configuration.
  }
  const auths = isObject(config.auths) ? config.auths : {};
  // No registry named: the reader takes the first entry, so that one is written (or the instance's, when none).
  const registry = placement.registry ?? Object.keys(auths)[0] ?? placement.instance ?? 'registry';
  const before = isObject(auths[registry]) ? auths[registry] : {};
  const user = placement.username ?? userOfDockerEntry(before) ?? DEFAULT_USERNAME;
  const { username: _u, password: _p, ...kept } = before;
  const entry = { ...kept, auth: Buffer.from(`${user}:${secret}`, 'utf8').toString('base64') };
  // Built with fromEntries (own data properties): a registry named `__proto__` cannot touch a prototype.
  const entries = Object.entries(auths);
  const next = entries.some(([k]) => k === registry) ? entries.map(([k, v]) => [k, k === registry ? entry : v]) : [...entries, [registry, entry]];
  return JSON.stringify(Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'auths').concat([['auths', Object.fromEntries(next)]])));
}

/**
 * `.netrc`: the password the reader would take (the first one, or the first after the placement's
 * `login`) is replaced in place, whitespace and other machines kept; when there is none, a line
 * `machine <registry or instance> login <user> password <secret>` is put first.
 */
function toNetrc(placement: PlacementFormatFields, secret: string, current: string | null): string {
  const parts = (current ?? '').split(/(\s+)/);
  const words = parts.map((text, index) => ({ text, index })).filter((w) => w.text !== '' && !/^\s/.test(w.text));
  let login: string | null = null;
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i]!.text === 'login') login = words[i + 1]!.text;
    if (words[i]!.text === 'password' && (placement.username === null || login === placement.username)) {
      parts[words[i + 1]!.index] = secret;
      return parts.join('');
    }
  }
  const line = `machine ${placement.registry ?? placement.instance ?? 'localhost'} login ${placement.username ?? DEFAULT_USERNAME} password ${secret}`;
  return current === null || current.trim() === '' ? line : `${line}\n${current}`;
}

/** The value that makes the placement hold `secret`, keeping what else `current` (null: none yet) holds. Pure. */
export function valueForPlacement(placement: PlacementFormatFields, secret: string, current: string | null): string {
  switch (placement.format ?? 'raw') {
    case 'docker_auth_config':
      return toDockerAuthConfig(placement, secret, current);
    case 'netrc':
      return toNetrc(placement, secret, current);
    case 'user_password': {
      const colon = current?.indexOf(':') ?? -1;
      const user = placement.username ?? (colon > 0 ? current!.slice(0, colon) : DEFAULT_USERNAME);
      return `${user}:${secret}`;
    }
    default:
      return secret;
  }
}
