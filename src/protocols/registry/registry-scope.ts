/**
 * Resource scopes of the distribution token spec (`repository:group/project:pull,push`), parsed and
 * merged, and the `scope` string an OAuth2 response reports back. Pure, no I/O.
 */

/** One requested or granted resource: `{type, name, actions}` as the JWT `access` claim holds it. */
export interface ResourceAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** Most scopes one request may carry (a push asks for 1–3); more is refused rather than looked up. */
export const MAX_SCOPES = 32;

// type ":" name ":" actions; the name may itself hold ':' (a registry host with a port), so the type is
// everything before the first ':' and the actions everything after the last.
const TYPE_RE = /^[a-z0-9]+(\([a-z0-9]+\))?$/;
const ACTION_RE = /^[a-z*]+$/;
// Repository names are printable ASCII (distribution's grammar is stricter); no NUL or control bytes reach the store.
const NAME_RE = /^[\x21-\x7e]{1,1024}$/;

export class ScopeError extends Error {}

/** One scope string, or a ScopeError saying why it is not one. */
export function parseScope(scope: string): ResourceAccess {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) throw new ScopeError(`scope ${JSON.stringify(scope.slice(0, 300))} is not "type:name:actions"`);
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(',').filter((a) => a.length > 0);
  if (!TYPE_RE.test(type) || !NAME_RE.test(name) || actions.some((a) => !ACTION_RE.test(a))) {
    throw new ScopeError(`scope ${JSON.stringify(scope.slice(0, 300))} is not "type:name:actions"`);
  }
  // `repository(plugin):name` is a resource class; only the type matters for access.
  return { type: type.replace(/\(.*\)$/, ''), name, actions: [...new Set(actions)] };
}

/**
 * Every `scope` value of a request (the parameter may repeat, and each value may be a space-separated
 * list), merged per resource: asking for `pull,push` and then `pull` on one repository is one entry.
 */
export function parseScopes(values: readonly string[]): ResourceAccess[] {
  const merged = new Map<string, { type: string; name: string; actions: Set<string> }>();
  const scopes = values.flatMap((v) => v.split(' ')).filter((s) => s.length > 0);
  if (scopes.length > MAX_SCOPES) throw new ScopeError(`at most ${MAX_SCOPES} scopes per request`);
  for (const scope of scopes) {
    const parsed = parseScope(scope);
    const key = `${parsed.type}\u0000${parsed.name}`;
    const entry = merged.get(key) ?? { type: parsed.type, name: parsed.name, actions: new Set<string>() };
    for (const action of parsed.actions) entry.actions.add(action);
    merged.set(key, entry);
  }
  return [...merged.values()].map((e) => ({ type: e.type, name: e.name, actions: [...e.actions] }));
}

/** The OAuth2 `scope` of a response: what was granted, space-separated (resources granted nothing are left out). */
export function formatScopes(access: readonly ResourceAccess[]): string {
  return access
    .filter((a) => a.actions.length > 0)
    .map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`)
    .join(' ');
}
