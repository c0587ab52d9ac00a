/** Names and paths as GitLab accepts them. */
import { invalidField } from '../kernel/errors.js';

export const MAX_NAME_LENGTH = 255;
// GitLab's path rule: letters, digits, '_', '-', '.'; not starting with '-' or ending with '.', '.git' or '.atom'.
const PATH_RE = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*$/;

export function checkName(field: string, value: string): string {
  const name = value.trim();
  if (name.length === 0) throw invalidField(field, "can't be blank");
  if (name.length > MAX_NAME_LENGTH) throw invalidField(field, `is too long (maximum is ${MAX_NAME_LENGTH} characters)`);
  // Control characters break tables, logs and terminals; GitLab refuses them in names too.
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalidField(field, 'cannot contain control characters');
  return name;
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
