/**
 * `latchkey user set-password` (prompt or --password-stdin) and the one-time sign-in link of
 * `latchkey admin bootstrap`, on SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { runCli } from '../../src/cli/main.js';

describe('latchkey user set-password and the bootstrap sign-in link', () => {
  const h = createCliHarness('sqlite', { prefix: 'latchkey-user-cli-' });
  beforeAll(() => h.setUp());
  afterAll(() => h.tearDown());

  it('bootstrap prints a one-time sign-in link that opens the web UI once', async () => {
    const boot = await h.cliJson('admin', 'bootstrap');
    expect(boot.sign_in_url).toMatch(/^http:\/\/127\.0\.0\.1:8080\/users\/sign_in\/link\?token=[A-Za-z0-9_-]{43}$/);
    const secret = new URL(boot.sign_in_url).searchParams.get('token')!;
    await h.withApp(async (app) => {
      expect((await app.services.signIn.peekLink(secret))?.username).toBe('root');
      expect(await app.services.signIn.signInWithLink(secret, { ip: null, userAgent: null })).not.toBeNull();
      expect(await app.services.signIn.signInWithLink(secret, { ip: null, userAgent: null })).toBeNull();
    });
    const text = await h.cli('admin', 'bootstrap');
    expect(text.out).toContain('One-time sign-in link to the web UI');
  });

  it('--password-stdin sets the password (trailing newline dropped); a wrong one then fails', async () => {
    h.stdin = 'root password 1\n';
    const run = await h.cli('user', 'set-password', 'root', '--password-stdin');
    expect(run.code).toBe(0);
    expect(run.out).toBe('Password set for root; their web sessions were ended.');
    await h.withApp(async (app) => {
      expect((await app.services.signIn.signInWithPassword('root', 'root password 1', { ip: '1.1.1.1', userAgent: null })).ok).toBe(true);
      expect((await app.services.signIn.signInWithPassword('root', 'root password 1\n', { ip: '1.1.1.1', userAgent: null })).ok).toBe(false);
    });
  });

  it('asks twice at the prompt and refuses when the two differ', async () => {
    const answers = ['prompted password', 'prompted password', 'first one', 'second one'];
    const prompts: string[] = [];
    const io = (out: string[], err: string[]) => ({
      print: (s: string) => out.push(s),
      error: (s: string) => err.push(s),
      env: h.env,
      promptSecret: async (q: string) => (prompts.push(q), answers.shift()!),
    });
    const out: string[] = [];
    const err: string[] = [];
    expect(await runCli(['node', 'latchkey', 'user', 'set-password', 'root'], io(out, err))).toBe(0);
    expect(prompts).toEqual(['New password: ', 'Repeat it: ']);
    expect(await runCli(['node', 'latchkey', 'user', 'set-password', 'root'], io(out, err))).toBe(2);
    expect(err.join('\n')).toContain('the two passwords differ');
    await h.withApp(async (app) => {
      expect((await app.services.signIn.signInWithPassword('root', 'prompted password', { ip: '1.1.1.2', userAgent: null })).ok).toBe(true);
    });
  });

  it('without a terminal it asks for --password-stdin; unknown users and short passwords fail with exit 1', async () => {
    const noTty = await runCli(['node', 'latchkey', 'user', 'set-password', 'root'], { print: () => {}, error: () => {}, env: h.env, promptSecret: null });
    expect(noTty).toBe(2);
    h.stdin = 'long enough password';
    const unknown = await h.cli('user', 'set-password', 'nobody', '--password-stdin');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('User Not Found');
    h.stdin = 'short';
    const short = await h.cli('user', 'set-password', 'root', '--password-stdin');
    expect(short.code).toBe(1);
    expect(short.err).toContain('password is too short (minimum is 8 characters)');
  });
});
