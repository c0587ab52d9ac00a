/**
 * `latchkey credential policy` and `latchkey credential group-policy` in-process through runCli on both
 * stores (issue 16 item 3): show, set (options checked, named by flag), inherit, remove.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

describe.each(DIALECTS)('latchkey credential policy on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-rotation-policy-cli-' });
  const { cli, cliJson } = h;

  beforeAll(async () => {
    await h.setUp();
    await h.withServices(async ({ services }) => {
      const admin = (await services.namespaces.ensureFirstAdmin('root', 'root@example.com')).admin;
      const acme = await services.namespaces.createGroup(admin, { name: 'Acme', path: 'acme' });
      await services.namespaces.createGroup(admin, { name: 'Platform', path: 'platform', parentId: acme.id });
      await services.inventory.create(admin, { slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', owner: 'acme/platform', renewal: { type: 'expires_at', expiresAt: '2099-03-31' } });
    });
  });
  afterAll(() => h.tearDown());

  it('sets, shows, inherits and removes policies; bad options are named by their flag', async () => {
    const bad = await cli('credential', 'policy', 'npm-publish', '--days', '0', '--hour', '25');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--days must be a whole number of days from 1 to 365; --hour must be a whole number of hours (UTC) from 0 to 23');
    expect((await cli('credential', 'policy', 'npm-publish', '--hour', '3')).err).toContain('days_before_expiry is missing');

    const group = await cliJson('credential', 'group-policy', 'acme', '--days', '30', '--hour', '4');
    expect(group).toMatchObject({ group: { full_path: 'acme' }, policy: { days_before_expiry: 30, hour: 4, notify: false, enabled: true } });
    const inherited = await cliJson('credential', 'policy', 'npm-publish');
    expect(inherited).toMatchObject({ policy: null, effective: { source: 'group', group: { full_path: 'acme' } }, rotates_at: '2099-03-01T04:00:00.000Z' });

    const own = await cli('credential', 'policy', 'npm-publish', '--days', '14', '--hour', '6', '--grace', '3600', '--quiet', '600', '--notify');
    expect(own.code, own.err).toBe(0);
    expect(own.out).toContain('own policy: rotate 14 days before expiry at 06:00 UTC; grace 3600 s, quiet 600 s; notify yes');
    expect(own.out).toContain('applies:    rotate 14 days before expiry at 06:00 UTC; grace 3600 s, quiet 600 s; notify yes (its own)');
    expect(own.out).toContain('rotates at: 2099-03-17T06:00:00.000Z');
    expect((await cliJson('credential', 'policy', 'npm-publish', '--no-notify', '--disable')).policy).toMatchObject({ days_before_expiry: 14, notify: false, enabled: false });

    expect((await cli('credential', 'policy', 'npm-publish', '--remove')).out).toBe('Removed the rotation policy of npm-publish.');
    expect((await cliJson('credential', 'policy', 'npm-publish')).effective.source).toBe('group');
    const again = await cli('credential', 'policy', 'npm-publish', '--remove');
    expect(again.code).toBe(1);
    expect(again.err).toContain('404 Rotation Policy Not Found');
    expect((await cli('credential', 'group-policy', 'acme', '--remove')).code).toBe(0);
    expect((await cliJson('credential', 'policy', 'npm-publish')).effective).toBeNull();
  });
});
