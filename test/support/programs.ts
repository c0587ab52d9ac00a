/**
 * Whether an external program a suite drives (python-gitlab, …) is usable here. Missing on a developer
 * machine: print `SKIP <name>: <why>` and let the suite skip. Under CI=true a missing program is a
 * failure, never a skip: CI installs everything the tests need (.ci/run).
 */
import { spawnSync } from 'node:child_process';

export interface ProgramProbe {
  /** Executable to run, e.g. `/usr/bin/python3`. */
  command: string;
  /** Arguments of a cheap command that succeeds only when the program is usable, e.g. `-c "import gitlab"`. */
  args?: string[];
  /** How to get it, appended to the message, e.g. `apt-get install python3-gitlab`. */
  hint?: string;
  timeoutMs?: number;
}

/** Why `probe` fails, or null when it runs and exits 0. */
export function probeProblem(probe: ProgramProbe): string | null {
  const shown = [probe.command, ...(probe.args ?? [])].join(' ');
  const result = spawnSync(probe.command, probe.args ?? [], { encoding: 'utf8', timeout: probe.timeoutMs ?? 20_000 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${probe.command} not found` : `\`${shown}\` could not run (${code ?? result.error.message})`;
  }
  if (result.status !== 0) {
    const detail = (result.stderr || result.stdout || '').trim().split('\n').pop() ?? '';
    return `\`${shown}\` exited with ${result.status ?? result.signal}${detail ? `: ${detail}` : ''}`;
  }
  return null;
}

/**
 * True when the program is usable. Otherwise prints `SKIP <name>: <why>` and returns false — or, under
 * CI=true, throws so the suite fails.
 */
export function requireProgram(name: string, probe: ProgramProbe, env: Record<string, string | undefined> = process.env): boolean {
  const problem = probeProblem(probe);
  if (problem === null) return true;
  const why = probe.hint ? `${problem} (install: ${probe.hint})` : problem;
  if (env.CI === 'true') throw new Error(`${name} is required under CI=true but is not usable: ${why}`);
  console.warn(`SKIP ${name}: ${why}`);
  return false;
}
