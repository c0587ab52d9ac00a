/**
 * Project and group visibility as GitLab has it (Gitlab::VisibilityLevel): `private` (members only, the
 * default), `internal` (any signed-in user) and `public` (anyone, without a token). Pure rules: who sees
 * a resource without being a member of it, and the ordering behind GitLab's validations — a project is
 * never more visible than its group, a sub-group never more visible than its parent.
 *
 * Seeing without membership is reading: the project or group itself, and what GitLab lets a
 * non-member read of it (git fetch, package download, registry pull). Writing always needs membership.
 */

export const VISIBILITIES = ['private', 'internal', 'public'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** GitLab's visibility_level values: 0, 10, 20. */
const LEVEL: Record<Visibility, number> = { private: 0, internal: 10, public: 20 };

/**
 * Who looks: nobody signed in; an external user, who sees no more than nobody does (GitLab's
 * `external` users — and GitLab creates every service account external); or any other signed-in user
 * (humans, project and group bots).
 */
export type Viewer = 'anonymous' | 'external' | 'signed_in';

/** The viewer a user (null: nobody signed in) is: service accounts are external, as GitLab creates them. */
export function viewerOf(user: { readonly botKind: string | null } | null): Viewer {
  if (user === null) return 'anonymous';
  return user.botKind === 'service_account' ? 'external' : 'signed_in';
}

export function isVisibility(value: unknown): value is Visibility {
  return typeof value === 'string' && (VISIBILITIES as readonly string[]).includes(value);
}

/** What the store holds is one of the three; anything else reads as the most restrictive. */
export function visibilityOf(stored: string): Visibility {
  return isVisibility(stored) ? stored : 'private';
}

/** Whether a non-member may read a resource of this visibility. */
export function isVisibleWithoutMembership(visibility: string, viewer: Viewer): boolean {
  const v = visibilityOf(visibility);
  return v === 'public' || (v === 'internal' && viewer === 'signed_in');
}

/** GitLab's `visibility_level` (0, 10, 20) of a stored visibility, as webhook payloads carry it. */
export function visibilityLevel(stored: string): number {
  return LEVEL[visibilityOf(stored)];
}

export function isMoreVisible(a: Visibility, than: Visibility): boolean {
  return LEVEL[a] > LEVEL[than];
}

/** The most visible of several (private for none). */
export function mostVisible(values: readonly string[]): Visibility {
  return values.map(visibilityOf).reduce<Visibility>((best, v) => (isMoreVisible(v, best) ? v : best), 'private');
}
