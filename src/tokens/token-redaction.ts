/**
 * Finds token values in free text (log lines, URL paths, user agents) by their format and checksum —
 * any kind prefix, also one of another instance or a former configuration — and replaces them. A
 * scanner's rule, run on what we write: the checksum keeps random text that merely looks similar.
 */
import { BODY_LENGTH, hasValidChecksum } from './token-format.js';

export const REDACTED = '[REDACTED]';

// A prefix as the configuration allows (`glpat-`, `gldt-`, `abc1-`), then body and checksum (34 base62).
const CANDIDATE = new RegExp(`[a-z][a-z0-9]{0,15}-[0-9A-Za-z]{${BODY_LENGTH + 6}}(?![0-9A-Za-z])`, 'g');

/**
 * The prefix is the shortest tail of the match that still looks like one, tried from the longest: in
 * `xglpat-…` the token is `glpat-…`, and the text before it stays.
 */
function redactCandidate(match: string): string {
  const dash = match.indexOf('-');
  for (let start = 0; start < dash; start++) {
    if (!/[a-z]/.test(match[start]!)) continue;
    const candidate = match.slice(start);
    if (hasValidChecksum(candidate, candidate.slice(0, dash - start + 1))) return match.slice(0, start) + REDACTED;
  }
  return match;
}

/** `text` with every value that has a token's format and a valid checksum replaced by `[REDACTED]`. */
export function redactTokens(text: string): string {
  return text.replace(CANDIDATE, redactCandidate);
}

/** True when `text` holds a token value (format and checksum). */
export function containsToken(text: string): boolean {
  return redactTokens(text) !== text;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A URL path fit for logs and the audit log: tokens redacted, including percent-encoded ones
 * (`/projects/%67lpat-…`). When only the decoded path shows a token, the decoded path is kept, redacted.
 */
export function redactPath(path: string): string {
  const redacted = redactTokens(path);
  if (!redacted.includes('%')) return redacted;
  const decoded = safeDecode(redacted);
  return containsToken(decoded) ? redactTokens(decoded) : redacted;
}
