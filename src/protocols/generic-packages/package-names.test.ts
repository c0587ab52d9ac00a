import { describe, expect, it } from 'vitest';
import { DomainError } from '../../kernel/errors.js';
import { readCoordinates, readSelect, readStatus } from './package-names.js';

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return e.message;
    throw e;
  }
  return 'accepted';
};

describe('generic package coordinates (GitLab rules)', () => {
  it('accepts GitLab-valid names and versions', () => {
    expect(readCoordinates({ package_name: 'my_package-1.0+x', package_version: '1.2.3-rc.1+build_5', file_name: 'tool.tar.gz' })).toEqual({ packageName: 'my_package-1.0+x', version: '1.2.3-rc.1+build_5', fileName: 'tool.tar.gz' });
  });

  it.each([
    [{ package_name: '..', package_version: '1', file_name: 'a' }, 'package_name should be a valid file path'],
    [{ package_name: 'p', package_version: '1', file_name: '.' }, 'file_name should be a valid file path'],
    [{ package_name: 'p', package_version: '1', file_name: '..' }, 'file_name should be a valid file path'],
    [{ package_name: 'p', package_version: '1', file_name: '../etc/passwd' }, 'file_name is invalid'],
    [{ package_name: 'p', package_version: '1', file_name: 'a\\b' }, 'file_name is invalid'],
    [{ package_name: 'p/q', package_version: '1', file_name: 'a' }, 'package_name is invalid'],
    [{ package_name: 'p', package_version: '..', file_name: 'a' }, 'package_version is invalid'],
    [{ package_name: 'p', package_version: '1/../2', file_name: 'a' }, 'package_version is invalid'],
    [{ package_name: 'p', package_version: '', file_name: 'a' }, 'package_version is missing'],
    [{ package_name: 'p', package_version: '1', file_name: 'é' }, 'file_name is invalid'],
    [{ package_name: 'p'.repeat(256), package_version: '1', file_name: 'a' }, 'package_name is invalid'],
  ])('refuses %j: %s', (params, message) => {
    expect(errorOf(() => readCoordinates(params))).toBe(message);
  });

  it('reads status and select', () => {
    expect([readStatus(undefined), readStatus('hidden'), readStatus('default')]).toEqual([null, 'hidden', 'default']);
    expect(errorOf(() => readStatus('public'))).toBe('status does not have a valid value');
    expect(readSelect('package_file')).toBe('package_file');
    expect(errorOf(() => readSelect('x'))).toBe('select does not have a valid value');
  });
});
