/** LIKE patterns over user input (both dialects): `\` escapes, so `%` and `_` in a search match themselves. */

/** The pattern for "contains `search`, case-insensitively", for `lower(column) like ? escape '\'`. */
export function containsPattern(search: string): string {
  return `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
