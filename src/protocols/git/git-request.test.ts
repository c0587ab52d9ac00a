import { describe, expect, it } from 'vitest';
import { parseGitRequest } from './git-request.js';

describe('parseGitRequest', () => {
  it('reads the project path and fetch/push from the four smart-HTTP requests', () => {
    expect(parseGitRequest('/acme/platform/web.git/info/refs?service=git-upload-pack', 'GET')).toEqual({ projectPath: 'acme/platform/web', operation: 'read' });
    expect(parseGitRequest('/acme/web.git/git-upload-pack', 'POST')).toEqual({ projectPath: 'acme/web', operation: 'read' });
    expect(parseGitRequest('/acme/platform/web.git/info/refs?service=git-receive-pack', 'GET')).toEqual({ projectPath: 'acme/platform/web', operation: 'write' });
    expect(parseGitRequest('/a/b/c/d.git/git-receive-pack', 'post')).toEqual({ projectPath: 'a/b/c/d', operation: 'write' });
    expect(parseGitRequest('/acme/web.git/info/refs?service=git-upload-pack', 'HEAD')).toEqual({ projectPath: 'acme/web', operation: 'read' });
  });

  it('decodes the path as nginx does before routing', () => {
    expect(parseGitRequest('/acme/w%65b.git/info/refs?service=git-upload-pack', 'GET')).toEqual({ projectPath: 'acme/web', operation: 'read' });
    expect(parseGitRequest('/acme%2Fplatform/web.git/git-upload-pack', 'POST')).toEqual({ projectPath: 'acme/platform/web', operation: 'read' });
  });

  it.each([
    ['dumb protocol info/refs', '/acme/web.git/info/refs', 'GET'],
    ['unknown service', '/acme/web.git/info/refs?service=git-upload-archive', 'GET'],
    ['service given twice', '/acme/web.git/info/refs?service=git-upload-pack&service=git-receive-pack', 'GET'],
    ['inherited property as service', '/acme/web.git/info/refs?service=constructor', 'GET'],
    ['POST to info/refs', '/acme/web.git/info/refs?service=git-receive-pack', 'POST'],
    ['GET of git-receive-pack', '/acme/web.git/git-receive-pack', 'GET'],
    ['other files', '/acme/web.git/HEAD', 'GET'],
    ['no .git', '/acme/web/info/refs?service=git-upload-pack', 'GET'],
    ['a project without a group', '/web.git/git-upload-pack', 'POST'],
    ['dot-dot segment', '/acme/../other/web.git/git-upload-pack', 'POST'],
    ['encoded dot-dot segment', '/acme/%2e%2e/other/web.git/git-upload-pack', 'POST'],
    ['empty segment', '/acme//web.git/git-upload-pack', 'POST'],
    ['bad percent-encoding', '/acme/w%zzb.git/git-upload-pack', 'POST'],
    ['a path below the pack endpoint', '/acme/web.git/git-upload-pack/x', 'POST'],
  ])('refuses %s', (_name, uri, method) => {
    expect(parseGitRequest(uri, method)).toBeNull();
  });
});
