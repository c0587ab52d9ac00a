/**
 * `latchkey user set-password <username>`: a web UI password for a person, typed at a prompt (not
 * echoed, asked twice) or read from standard input with `--password-stdin` (scripts; one line, the
 * trailing newline dropped). The user's web sessions end. Bots and service accounts never get one.
 */
import type { Command } from 'commander';
import type { BuiltServices } from '../services.js';
import { emit, type Output } from './output.js';
import { CliInputError } from './token-format.js';


export interface UserCommandDeps {
  withServices<T>(fn: (built: BuiltServices) => Promise<T>): Promise<T>;
  out(opts: { json?: boolean }): Output;
  readStdin(): Promise<string>;
  /** Asks for a secret on the terminal without echo; null when there is no terminal. */
  promptSecret: ((question: string) => Promise<string>) | null;
}

export function registerUserCommands(program: Command, deps: UserCommandDeps): void {
  const user = program.command('user').description('People: web UI passwords');
  user
    .command('set-password')
    .description('Set the web UI password of a user (prompted, or --password-stdin); ends their web sessions')
    .argument('<username>', 'the user')
    .option('--password-stdin', 'read the password from standard input')
    .option('--json', 'machine-readable output')
    .action(async (username: string, opts: { passwordStdin?: boolean; json?: boolean }) => {
      let password: string;
      if (opts.passwordStdin) {
        password = (await deps.readStdin()).replace(/\r?\n$/, '');
      } else {
        if (!deps.promptSecret) throw new CliInputError('no terminal to ask for the password: pipe it with --password-stdin');
        password = await deps.promptSecret('New password: ');
        const again = await deps.promptSecret('Repeat it: ');
        if (again !== password) throw new CliInputError('the two passwords differ; nothing was changed');
      }
      await deps.withServices(async ({ services }) => {
        const changed = await services.accounts.setPasswordByUsername(username, password);
        emit(deps.out(opts), { username: changed.username, password_set: true }, () => `Password set for ${changed.username}; their web sessions were ended.`);
      });
    });
}

/** The terminal prompt: raw mode, nothing echoed, Enter ends, Ctrl-C aborts. */
export function terminalSecretPrompt(): ((question: string) => Promise<string>) | null {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return null;
  return (question) =>
    new Promise((resolve, reject) => {
      const stdin = process.stdin;
      process.stderr.write(question);
      stdin.setRawMode(true);
      stdin.resume();
      stdin.setEncoding('utf8');
      let value = '';
      const done = (error: Error | null) => {
        stdin.setRawMode(false);
        stdin.pause();
        stdin.off('data', onData);
        process.stderr.write('\n');
        if (error) reject(error);
        else resolve(value);
      };
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') return done(null);
          if (ch === '\u0003') return done(new CliInputError('cancelled'));
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
}
