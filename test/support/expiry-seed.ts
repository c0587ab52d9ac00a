/**
 * Seeds, through the services, a small instance whose tokens fall in the expiry windows relative to the
 * real clock (for CLI and process tests, which run on the system clock): root owns group `acme` with
 * project `acme/web`; `maint` is a Maintainer of acme; a deploy token expires in 5 days, a personal
 * token of `maint` in 20 days, and one deploy token in 200 days.
 */
import { buildServices } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { addDays, utcDateOf } from '../../src/kernel/dates.js';

export async function seedExpiringInstance(env: Record<string, string>): Promise<{ today: string }> {
  const built = await buildServices(loadConfig(env));
  try {
    const s = built.services;
    const today = utcDateOf(new Date());
    const { admin } = await s.namespaces.ensureFirstAdmin('root', 'root@example.com');
    const acme = await s.namespaces.createGroup(admin, { name: 'Acme', path: 'acme' });
    const web = await s.namespaces.createProject(admin, { name: 'Web', path: 'web', namespaceId: acme.id });
    const maint = await s.namespaces.createUser(admin, { username: 'maint', name: 'Maintainer', email: 'maint@example.com' });
    await s.namespaces.addMember(admin, { type: 'group', group: acme }, { userId: maint.id, accessLevel: 40, expiresAt: null });
    await s.deployTokens.create(admin, { type: 'project', project: web }, { name: 'pull', scopes: ['read_registry'], expiresAt: addDays(today, 5) });
    await s.personalTokens.createFor(maint, { name: 'laptop', scopes: ['read_api'], expiresAt: addDays(today, 20) }, null);
    await s.deployTokens.create(admin, { type: 'project', project: web }, { name: 'far', scopes: ['read_registry'], expiresAt: addDays(today, 200) });
    return { today };
  } finally {
    await built.close();
  }
}
