/**
 * GitLab's rules for generic package coordinates, checked before anything touches the store or the
 * disk: package and file names `[A-Za-z0-9._+-]+` (Gitlab::Regex.generic_package_name_regex, plus
 * the `file_path` check that refuses `.` and `..`), versions `[A-Za-z0-9_.+-]+` without `..`
 * (generic_package_version_regex). Names never become paths anyway (files are stored by checksum).
 */
import { invalidParam } from '../../kernel/errors.js';

const NAME_RE = /^[A-Za-z0-9._+-]+$/;
const VERSION_RE = /^[A-Za-z0-9_.+-]+$/;
const MAX_LENGTH = 255;

export interface PackageCoordinates {
  readonly packageName: string;
  readonly version: string;
  readonly fileName: string;
}

export type PackageStatus = 'default' | 'hidden';

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidParam(`${field} is missing`);
  if (value.length > MAX_LENGTH || !NAME_RE.test(value)) throw invalidParam(`${field} is invalid`);
  if (value === '.' || value === '..') throw invalidParam(`${field} should be a valid file path`);
  return value;
}

export function readCoordinates(params: { package_name?: unknown; package_version?: unknown; file_name?: unknown }): PackageCoordinates {
  const packageName = checkName('package_name', params.package_name);
  const version = params.package_version;
  if (typeof version !== 'string' || version.length === 0) throw invalidParam('package_version is missing');
  if (version.length > MAX_LENGTH || !VERSION_RE.test(version) || version.includes('..')) throw invalidParam('package_version is invalid');
  return { packageName, version, fileName: checkName('file_name', params.file_name) };
}

/** `status`: `default` (when absent) or `hidden`. */
export function readStatus(value: unknown): PackageStatus | null {
  if (value === undefined) return null;
  if (value === 'default' || value === 'hidden') return value;
  throw invalidParam('status does not have a valid value');
}

/** `select`: absent or `package_file`. */
export function readSelect(value: unknown): 'package_file' | null {
  if (value === undefined) return null;
  if (value === 'package_file') return value;
  throw invalidParam('select does not have a valid value');
}
