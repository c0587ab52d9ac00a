/** OAuthStore over Kysely (both dialects). */
import type { Kysely, Selectable } from 'kysely';
import type { Database, OauthApplicationsTable } from './database.js';
import type { OAuthStore } from '../oauth/oauth-store.js';
import type { OAuthApplication } from '../oauth/application.js';

const toApplication = (r: Selectable<OauthApplicationsTable>): OAuthApplication => ({
  id: Number(r.id),
  uid: r.uid,
  name: r.name,
  redirectUris: r.redirect_uri.split(/\s+/).filter(Boolean),
  scopes: JSON.parse(r.scopes) as string[],
  confidential: Number(r.confidential) === 1,
  ownerId: r.owner_id,
  createdAt: r.created_at,
});

export function createOAuthStore(db: Kysely<Database>): OAuthStore {
  return {
    async insertApplication(a) {
      const r = await db
        .insertInto('oauth_applications')
        .values({
          uid: a.uid,
          name: a.name,
          redirect_uri: a.redirectUris.join('\n'),
          scopes: JSON.stringify(a.scopes),
          confidential: a.confidential ? 1 : 0,
          secret_digest: a.secretDigest,
          owner_id: a.ownerId,
          created_at: a.createdAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toApplication(r);
    },
    async findApplication(id) {
      const r = await db.selectFrom('oauth_applications').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toApplication(r) : null;
    },
    async findApplicationByUid(uid) {
      const r = await db.selectFrom('oauth_applications').selectAll().where('uid', '=', uid).executeTakeFirst();
      return r ? { ...toApplication(r), secretDigest: r.secret_digest } : null;
    },
    async listApplications() {
      const rows = await db.selectFrom('oauth_applications').selectAll().where('owner_id', 'is', null).orderBy('id').execute();
      return rows.map(toApplication);
    },
    async deleteApplication(id) {
      const r = await db.deleteFrom('oauth_applications').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async setSecretDigest(id, digest) {
      const r = await db.updateTable('oauth_applications').set({ secret_digest: digest }).where('id', '=', id).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}
