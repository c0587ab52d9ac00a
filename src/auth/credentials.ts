/**
 * Where a client puts its token: `PRIVATE-TOKEN`, `Deploy-Token` (deploy tokens only, as GitLab's
 * package APIs), `Authorization: Bearer`, the `private_token` or `access_token` query parameter, or
 * HTTP Basic (username + token, as git, docker and deploy tokens do).
 * Framework-free so every protocol adapter shares it.
 */
export type Credential =
  | { kind: 'token'; secret: string; deployTokenHeader?: boolean }
  | { kind: 'basic'; username: string; secret: string };

type Headers = Record<string, string | string[] | undefined>;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function readBasic(authorization: string | undefined): { username: string; secret: string } | null {
  if (!authorization || !/^basic /i.test(authorization)) return null;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/** The credential of an API request, or null when there is none. */
export function readApiCredential(headers: Headers, query: Record<string, unknown>): Credential | null {
  const privateToken = first(headers['private-token']);
  if (privateToken) return { kind: 'token', secret: privateToken.trim() };
  const deployToken = first(headers['deploy-token']);
  if (deployToken) return { kind: 'token', secret: deployToken.trim(), deployTokenHeader: true };
  const authorization = first(headers.authorization);
  if (authorization && /^bearer /i.test(authorization)) return { kind: 'token', secret: authorization.slice(7).trim() };
  const basic = readBasic(authorization);
  if (basic) return { kind: 'basic', ...basic };
  for (const key of ['private_token', 'access_token']) {
    const v = query[key];
    if (typeof v === 'string' && v.length > 0) return { kind: 'token', secret: v };
  }
  return null;
}
