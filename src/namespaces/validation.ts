/** Names and paths as GitLab accepts them. */
import { invalidField } from '../kernel/errors.js';

export const MAX_NAME_LENGTH = 255;
// GitLab's path rule: letters, digits, '_', '-', '.'; not starting with '-' or ending with '.', '.git' or '.atom'.
const PATH_RE = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*$/;

export const MAX_DESCRIPTION_LENGTH = 2000;
// Half of a UTF-16 surrogate pair on its own: not text, and no store can keep it as it was sent.
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function checkName(field: string, value: string): string {
  const name = value.trim();
  if (name.length === 0) throw invalidField(field, "can't be blank");
  if (name.length > MAX_NAME_LENGTH) throw invalidField(field, `is too long (maximum is ${MAX_NAME_LENGTH} characters)`);
  // Control characters break tables, logs and terminals; GitLab refuses them in names too.
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalidField(field, 'cannot contain control characters');
  if (LONE_SURROGATE_RE.test(name)) throw invalidField(field, 'is not valid Unicode text');
  return name;
}

export function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE_RE.test(value);
}

/**
 * Free text (descriptions): any line breaks, but no NUL, which PostgreSQL cannot store in text, and
 * no lone surrogate, which is not text at all.
 */
export function checkText(field: string, value: string): string {
  if (value.length > MAX_DESCRIPTION_LENGTH) throw invalidField(field, `is too long (maximum is ${MAX_DESCRIPTION_LENGTH} characters)`);
  if (value.includes('\u0000')) throw invalidField(field, 'cannot contain NUL characters');
  if (LONE_SURROGATE_RE.test(value)) throw invalidField(field, 'is not valid Unicode text');
  return value;
}

export function checkPath(field: string, value: string): string {
  if (value.length === 0) throw invalidField(field, "can't be blank");
  if (value.length > MAX_NAME_LENGTH) throw invalidField(field, `is too long (maximum is ${MAX_NAME_LENGTH} characters)`);
  if (!PATH_RE.test(value) || value.endsWith('.') || /\.(git|atom)$/i.test(value) || value === '.' || value === '..') {
    throw invalidField(field, "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.', '.git' or '.atom'");
  }
  return value;
}

/** Derives a path from a name the way GitLab does when only a name is given. */
export function pathFromName(name: string): string {
  return name
    .trim()
    .replace(/[^a-zA-Z0-9_.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .toLowerCase();
}
