/**
 * Tokens of every kind with chosen expiry dates, for the expiring report and the metrics tests. With the
 * test clock at 2026-11-23 the days left are in the comments. Seeded through the services, over
 * `seedWorld`'s tree: acme → acme/platform → acme/platform/web, and acme/other/site.
 */
import type { TestApp, World } from './test-app.js';

export interface ExpiringFixture {
  /** Token ids by fixture name. */
  ids: Record<'laptop' | 'ciBot' | 'registryPull' | 'otherSite' | 'saToken' | 'groupDeploy' | 'topBot' | 'forever' | 'revoked', number>;
  serviceAccount: { id: number; username: string };
}

export async function seedExpiringTokens(t: TestApp, w: World): Promise<ExpiringFixture> {
  const { deployTokens, personalTokens, resourceTokens, serviceAccounts, lifecycle } = t.app.services;
  const web = { type: 'project' as const, project: w.project };
  const site = { type: 'project' as const, project: w.otherProject };
  const platform = { type: 'group' as const, group: w.sub };
  const acme = { type: 'group' as const, group: w.top };
  const laptop = await personalTokens.createFor(w.users.maintainer.user, { name: 'laptop', scopes: ['read_api'], expiresAt: '2026-11-25' }, null); // 2 days
  const ciBot = await resourceTokens.create(w.admin, web, { name: 'ci-bot', scopes: ['read_repository'], expiresAt: '2026-11-30' }); // 7
  const registryPull = await deployTokens.create(w.admin, web, { name: 'registry-pull', scopes: ['read_registry'], expiresAt: '2026-12-01' }); // 8
  const otherSite = await deployTokens.create(w.admin, site, { name: 'site-deploy', scopes: ['read_repository'], expiresAt: '2026-12-03' }); // 10
  const account = await serviceAccounts.create(w.admin, w.top, { name: 'Release robot', username: 'release-robot' });
  const saToken = await serviceAccounts.createToken(w.admin, w.top, account.id, { name: 'release', scopes: ['api'], expiresAt: '2026-12-05' }); // 12
  const groupDeploy = await deployTokens.create(w.admin, platform, { name: 'group-deploy', scopes: ['read_package_registry'], expiresAt: '2026-12-20' }); // 27
  const topBot = await resourceTokens.create(w.admin, acme, { name: 'top-bot', scopes: ['read_api'], expiresAt: '2027-01-10' }); // 48
  const forever = await deployTokens.create(w.admin, web, { name: 'forever', scopes: ['read_repository'] }); // no expiry
  const revoked = await deployTokens.create(w.admin, web, { name: 'revoked', scopes: ['read_repository'], expiresAt: '2026-12-02' });
  await lifecycle.revoke(revoked.token, { by: w.admin });
  return {
    ids: {
      laptop: laptop.token.id,
      ciBot: ciBot.token.id,
      registryPull: registryPull.token.id,
      otherSite: otherSite.token.id,
      saToken: saToken.token.id,
      groupDeploy: groupDeploy.token.id,
      topBot: topBot.token.id,
      forever: forever.token.id,
      revoked: revoked.token.id,
    },
    serviceAccount: { id: account.id, username: account.username },
  };
}
