/**
 * Running a python-gitlab script against a `latchkey serve` process: Debian's python3-gitlab, which only
 * /usr/bin/python3 can import (a pyenv python3 on PATH cannot see it). The script gets the server's URL
 * and an admin token as arguments and prints what it saw as JSON; the suites assert on that.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireProgram } from './programs.js';
import type { ServerProcess } from './server-process.js';

const PYTHON = '/usr/bin/python3';

/**
 * What every script starts with (prepended by runPythonGitlab): the client `gl` for the server's URL
 * and admin token, `out` (printed as JSON at the end by the script), `attrs`, `whoami` and `status_of`.
 */
const PRELUDE = String.raw`
import datetime
import json
import sys

import gitlab

url, token = sys.argv[1], sys.argv[2]
gl = gitlab.Gitlab(url, private_token=token, timeout=20)
out = {"version": gitlab.__version__}


def attrs(objs):
    return [o.attributes for o in objs]


def whoami(secret):
    """What a script holding this secret sees: the authenticated user, or python-gitlab's refusal status."""
    client = gitlab.Gitlab(url, private_token=secret, timeout=20)
    try:
        client.auth()
    except gitlab.exceptions.GitlabError as e:
        return {"status": e.response_code}
    return {"status": 200, "id": client.user.id, "username": client.user.username, "bot": client.user.attributes.get("bot")}


def status_of(fn):
    """The status and message python-gitlab raised for a refused call; None when it succeeded."""
    try:
        fn()
    except gitlab.exceptions.GitlabError as e:
        return {"status": e.response_code, "message": str(e.error_message)}
    return {"status": None}
`;

/** Whether python-gitlab can run here (prints SKIP, or fails under CI=true, when not). */
export const pythonGitlabAvailable = (): boolean => requireProgram('python-gitlab', { command: PYTHON, args: ['-c', 'import gitlab'], hint: 'apt-get install python3-gitlab' });

/** Runs PRELUDE + `source` (saved as `name`) against `server` and returns the JSON it printed; the server's output is in the error when it fails. */
export async function runPythonGitlab<T>(server: ServerProcess, name: string, source: string, timeoutMs: number): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-python-gitlab-'));
  try {
    const script = join(dir, name);
    await writeFile(script, PRELUDE + source);
    const { stdout } = await promisify(execFile)(PYTHON, [script, server.url, server.adminToken], { timeout: timeoutMs, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    return JSON.parse(stdout) as T;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`python-gitlab script failed: ${err.message}\n${err.stderr ?? ''}\n--- server output ---\n${server.output()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
