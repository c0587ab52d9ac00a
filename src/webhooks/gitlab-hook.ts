/**
 * GitLab-format hooks (GitLab's project and group hooks API, doc/api/project_webhooks.md and
 * group_webhooks.md): the attributes GitLab accepts and returns, their defaults, and the entity. They
 * live in `webhooks` rows with format `gitlab`; Latchkey sends them the token events GitLab sends —
 * `expiring_access_token` (resource_access_token_events) and `expiring_deploy_token`
 * (resource_deploy_token_events). The other *_events flags are accepted and stored as GitLab stores
 * them, so a client that sets them round-trips; Latchkey has no pushes, issues or pipelines to send.
 */

/** The flags of GitLab's Hook entity (both kinds). */
const COMMON_FLAGS = ['push_events', 'tag_push_events', 'merge_requests_events', 'repository_update_events'] as const;

/** ProjectHook's own flags (lib/api/entities/project_hook.rb), in GitLab's order. */
export const PROJECT_FLAGS = [
  'issues_events',
  'confidential_issues_events',
  'note_events',
  'confidential_note_events',
  'pipeline_events',
  'wiki_page_events',
  'deployment_events',
  'feature_flag_events',
  'job_events',
  'releases_events',
  'milestone_events',
  'emoji_events',
  'resource_access_token_events',
  'resource_deploy_token_events',
  'vulnerability_events',
] as const;

/** GroupHook's own flags (ee/lib/api/entities/group_hook.rb): the project ones plus the group events. */
export const GROUP_FLAGS = [...PROJECT_FLAGS, 'subgroup_events', 'member_events', 'project_events'] as const;

export type HookContainer = 'project' | 'group';

/** The flags a client may set (GitLab does not take repository_update_events from the hooks API). */
export function settableFlags(container: HookContainer): readonly string[] {
  return ['push_events', 'tag_push_events', 'merge_requests_events', ...(container === 'project' ? PROJECT_FLAGS : GROUP_FLAGS)];
}

export const BRANCH_FILTER_STRATEGIES = ['wildcard', 'regex', 'all_branches'] as const;

export interface GitlabHookSettings {
  name: string | null;
  description: string | null;
  /** Every flag of the container; `confidential_note_events` is null until set, as GitLab's column. */
  flags: Record<string, boolean | null>;
  enable_ssl_verification: boolean;
  push_events_branch_filter: string | null;
  branch_filter_strategy: string;
  /** Names of the custom headers (their values are sealed apart and never shown). */
  custom_header_keys: string[];
}

/** A new hook's settings: GitLab's column defaults (push_events true, the rest false). */
export function defaultSettings(container: HookContainer): GitlabHookSettings {
  const flags: Record<string, boolean | null> = {};
  for (const f of [...COMMON_FLAGS, ...(container === 'project' ? PROJECT_FLAGS : GROUP_FLAGS)]) flags[f] = false;
  flags.push_events = true;
  flags.confidential_note_events = null;
  return { name: null, description: null, flags, enable_ssl_verification: true, push_events_branch_filter: null, branch_filter_strategy: 'wildcard', custom_header_keys: [] };
}

export function parseSettings(json: string | null, container: HookContainer): GitlabHookSettings {
  const defaults = defaultSettings(container);
  if (!json) return defaults;
  const stored = JSON.parse(json) as Partial<GitlabHookSettings>;
  return { ...defaults, ...stored, flags: { ...defaults.flags, ...(stored.flags ?? {}) } };
}

export interface GitlabHook {
  readonly id: number;
  readonly container: HookContainer;
  /** The project's or the group's id. */
  readonly containerId: number;
  readonly url: string;
  readonly createdAt: string;
  readonly settings: GitlabHookSettings;
  /** Whether a secret token is set (it is never shown). */
  readonly tokenPresent: boolean;
}

/** GitLab's ProjectHook / GroupHook entity. Never the token nor a custom header's value. */
export function presentGitlabHook(h: GitlabHook): Record<string, unknown> {
  const s = h.settings;
  const flag = (f: string) => s.flags[f] ?? (f === 'confidential_note_events' ? null : false);
  const entity: Record<string, unknown> = {
    id: h.id,
    url: h.url,
    name: s.name,
    description: s.description,
    created_at: h.createdAt,
  };
  for (const f of COMMON_FLAGS) entity[f] = flag(f);
  Object.assign(entity, {
    enable_ssl_verification: s.enable_ssl_verification,
    alert_status: 'executable',
    disabled_until: null,
    url_variables: [],
    push_events_branch_filter: s.push_events_branch_filter,
    branch_filter_strategy: s.branch_filter_strategy,
    custom_webhook_template: null,
    custom_headers: s.custom_header_keys.map((key) => ({ key })),
    token_present: h.tokenPresent,
  });
  entity[h.container === 'project' ? 'project_id' : 'group_id'] = h.containerId;
  for (const f of h.container === 'project' ? PROJECT_FLAGS : GROUP_FLAGS) entity[f] = flag(f);
  return entity;
}
