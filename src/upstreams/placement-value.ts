/**
 * The secret a placement holds, read out of what is configured there in its format: the value itself
 * (`raw`), the password of `DOCKER_AUTH_CONFIG` JSON for the placement's registry (`docker_auth_config`),
 * of a `.netrc` line (`netrc`) or of `user:password` (`user_password`). Pure; null when the value is not
 * in that format (or names another registry or user).
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
