/**
 * `latchkey oidc keys` and `latchkey oidc rotate-key` in-process on SQLite and PostgreSQL (issue 17): a
 * rotation makes a new key sign while the replaced one stays in the JWKS for a day, then drops out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

describe.each(DIALECTS)('latchkey oidc on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-oidc-cli-' });
  const { cli } = h;
  beforeAll(() => h.setUp());
  afterAll(() => h.tearDown());

  it('rotate-key: a new signing key; the old one stays published beside it, and the service publishes both', async () => {
    const before = await cli('oidc', 'keys', '--json');
    expect(before, before.err).toMatchObject({ code: 0, err: '' });
    const first = JSON.parse(before.out) as { signing: string; published: string[] };
    expect(first.published).toEqual([first.signing]);

    const rotated = await cli('oidc', 'rotate-key');
    expect(rotated, rotated.err).toMatchObject({ code: 0, err: '' });
    const newKid = /New OpenID Connect signing key (\S+)\./.exec(rotated.out)![1]!;
    expect(newKid).not.toBe(first.signing);
    expect(rotated.out).toContain(`${newKid}, ${first.signing}`);

    expect(JSON.parse((await cli('oidc', 'keys', '--json')).out)).toEqual({ signing: newKid, published: [newKid, first.signing] });
    expect((await cli('oidc', 'keys')).out).toBe(`${newKid} (signing)\n${first.signing}`);
    await h.withApp(async (app) => {
      const res = await app.http.inject({ method: 'GET', url: '/oauth/discovery/keys' });
      expect((JSON.parse(res.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([newKid, first.signing]);
    });
  });
});
