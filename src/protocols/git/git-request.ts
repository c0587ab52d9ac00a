/**
 * What a git smart-HTTP request asks for, read from the URI and method nginx forwards: the project's
 * full path and whether it fetches (git-upload-pack) or pushes (git-receive-pack). Pure; anything that
 * is not one of the four smart-HTTP requests (dumb protocol, odd paths) is `null` and gets refused.
 */
export type GitOperation = 'read' | 'write';

export interface GitRequest {
  /** `group/sub/project`, without `.git`. */
  readonly projectPath: string;
  readonly operation: GitOperation;
}

const SERVICES = new Map<string, GitOperation>([
  ['git-upload-pack', 'read'],
  ['git-receive-pack', 'write'],
]);
// `<path>.git/info/refs` (GET, `?service=…`) or `<path>.git/git-upload-pack|git-receive-pack` (POST).
const GIT_PATH_RE = /^\/(.+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
// Each segment as a project path may be; `.` and `..` are rejected below. The path is decoded first,
// so nginx (which routes on the decoded, normalised `$uri`) and this parser see the same repository;
// anything normalisation would change is refused rather than guessed.
const SEGMENT_RE = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*$/;

function decodePath(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** `originalUri` is nginx's `$request_uri` (path and query, still percent-encoded). */
export function parseGitRequest(originalUri: string, originalMethod: string): GitRequest | null {
  const queryAt = originalUri.indexOf('?');
  const path = decodePath(queryAt < 0 ? originalUri : originalUri.slice(0, queryAt));
  if (path === null || path.length > 2048) return null;
  const m = GIT_PATH_RE.exec(path);
  if (!m) return null;
  const projectPath = m[1]!;
  const segments = projectPath.split('/');
  if (segments.length < 2 || !segments.every((s) => SEGMENT_RE.test(s) && s !== '.' && s !== '..')) return null;
  const method = originalMethod.toUpperCase();
  if (m[2] === 'info/refs') {
    if (method !== 'GET' && method !== 'HEAD') return null;
    const service = new URLSearchParams(queryAt < 0 ? '' : originalUri.slice(queryAt + 1)).getAll('service');
    const operation = service.length === 1 ? SERVICES.get(service[0]!) : undefined;
    return operation ? { projectPath, operation } : null;
  }
  if (method !== 'POST') return null;
  return { projectPath, operation: SERVICES.get(m[2]!)! };
}
