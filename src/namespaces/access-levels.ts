/** GitLab's access levels, as data. Effective level = the highest along the group chain. */
export const AccessLevel = {
  NONE: 0,
  GUEST: 10,
  PLANNER: 15,
  REPORTER: 20,
  DEVELOPER: 30,
  MAINTAINER: 40,
  OWNER: 50,
} as const;

export const VALID_ACCESS_LEVELS: readonly number[] = [10, 15, 20, 30, 40, 50];

export function isValidAccessLevel(level: unknown): level is number {
  return typeof level === 'number' && VALID_ACCESS_LEVELS.includes(level);
}

const NAMES: Record<number, string> = { 10: 'Guest', 15: 'Planner', 20: 'Reporter', 30: 'Developer', 40: 'Maintainer', 50: 'Owner' };
export function accessLevelName(level: number): string {
  return NAMES[level] ?? 'No access';
}
