/** OAuthStore over Kysely (both dialects). */
import type { Kysely, Selectable } from 'kysely';
import type { Database, OauthApplicationsTable, OauthCodesTable, OauthDeviceCodesTable, OauthGrantsTable } from './database.js';
import type { OAuthCode, OAuthDeviceCode, OAuthGrant, OAuthStore } from '../oauth/oauth-store.js';
import type { OAuthApplication } from '../oauth/application.js';
import { createTokenStore } from './tokens.js';

const toApplication = (r: Selectable<OauthApplicationsTable>): OAuthApplication => ({
  id: Number(r.id),
  uid: r.uid,
  name: r.name,
  redirectUris: r.redirect_uri.split(/\s+/).filter(Boolean),
  scopes: JSON.parse(r.scopes) as string[],
  confidential: Number(r.confidential) === 1,
  ownerId: r.owner_id,
  ownerGroupId: r.owner_group_id,
  createdAt: r.created_at,
});

const toGrant = (r: Selectable<OauthGrantsTable>): OAuthGrant => ({
  id: Number(r.id),
  applicationId: Number(r.application_id),
  userId: Number(r.user_id),
  scopes: JSON.parse(r.scopes) as string[],
  flow: r.flow as OAuthGrant['flow'],
  nonce: r.nonce,
  authTime: r.auth_time,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  revokeReason: r.revoke_reason,
  expiresAt: r.expires_at,
});

const toCode = (r: Selectable<OauthCodesTable>): OAuthCode => ({
  id: Number(r.id),
  applicationId: Number(r.application_id),
  userId: Number(r.user_id),
  redirectUri: r.redirect_uri,
  scopes: JSON.parse(r.scopes) as string[],
  codeChallenge: r.code_challenge,
  codeChallengeMethod: r.code_challenge_method,
  nonce: r.nonce,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  grantId: r.grant_id === null ? null : Number(r.grant_id),
});

const toDeviceCode = (r: Selectable<OauthDeviceCodesTable>): OAuthDeviceCode => ({
  id: Number(r.id),
  applicationId: Number(r.application_id),
  scopes: JSON.parse(r.scopes) as string[],
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastPolledAt: r.last_polled_at,
  userId: r.user_id === null ? null : Number(r.user_id),
  approvedAt: r.approved_at,
  deniedAt: r.denied_at,
  usedAt: r.used_at,
});

export function createOAuthStore(db: Kysely<Database>): OAuthStore {
  const revokeTokens = async (grantIds: number[], at: string): Promise<number[]> => {
    if (grantIds.length === 0) return [];
    const live = await db
      .selectFrom('oauth_access_tokens as a')
      .innerJoin('tokens as t', 't.id', 'a.token_id')
      .select('t.id')
      .where('a.grant_id', 'in', grantIds)
      .where('t.revoked_at', 'is', null)
      .execute();
    const ids = live.map((r) => Number(r.id));
    if (ids.length > 0) await db.updateTable('tokens').set({ revoked_at: at, revoke_reason: 'revoked' }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
    return ids;
  };

  const store: OAuthStore = {
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
          owner_id: a.owner.kind === 'user' ? a.owner.id : null,
          owner_group_id: a.owner.kind === 'group' ? a.owner.id : null,
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
    async listApplications(owner) {
      let query = db.selectFrom('oauth_applications').selectAll();
      if (owner.kind === 'user') query = query.where('owner_id', '=', owner.id);
      else if (owner.kind === 'group') query = query.where('owner_group_id', '=', owner.id);
      else query = query.where('owner_id', 'is', null).where('owner_group_id', 'is', null);
      const rows = await query.orderBy('id').execute();
      return rows.map(toApplication);
    },
    async deleteApplication(id) {
      // Revoked tokens stay (audit and leak look-ups); their grant link, codes and refresh tokens go.
      const grants = db.selectFrom('oauth_grants').select('id').where('application_id', '=', id);
      await db.deleteFrom('oauth_access_tokens').where('grant_id', 'in', grants).execute();
      await db.deleteFrom('oauth_refresh_tokens').where('grant_id', 'in', grants).execute();
      await db.deleteFrom('oauth_codes').where('application_id', '=', id).execute();
      await db.deleteFrom('oauth_device_codes').where('application_id', '=', id).execute();
      await db.deleteFrom('oauth_grants').where('application_id', '=', id).execute();
      const r = await db.deleteFrom('oauth_applications').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async setSecretDigest(id, digest) {
      const r = await db.updateTable('oauth_applications').set({ secret_digest: digest }).where('id', '=', id).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async insertCode(c) {
      const r = await db
        .insertInto('oauth_codes')
        .values({
          digest: c.digest,
          application_id: c.applicationId,
          user_id: c.userId,
          redirect_uri: c.redirectUri,
          scopes: JSON.stringify(c.scopes),
          code_challenge: c.codeChallenge,
          code_challenge_method: c.codeChallengeMethod,
          nonce: c.nonce,
          created_at: c.createdAt,
          expires_at: c.expiresAt,
          used_at: null,
          grant_id: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toCode(r);
    },
    async findCodeByDigest(digest) {
      const r = await db.selectFrom('oauth_codes').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r ? toCode(r) : null;
    },
    async markCodeUsed(id, at, grantId) {
      const r = await db.updateTable('oauth_codes').set({ used_at: at, grant_id: grantId }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async insertGrant(g) {
      const r = await db
        .insertInto('oauth_grants')
        .values({ application_id: g.applicationId, user_id: g.userId, scopes: JSON.stringify(g.scopes), flow: g.flow, nonce: g.nonce, auth_time: g.authTime, created_at: g.createdAt, expires_at: g.expiresAt, revoked_at: null, revoke_reason: null })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toGrant(r);
    },
    async findGrant(id) {
      const r = await db.selectFrom('oauth_grants').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toGrant(r) : null;
    },
    async liveGrantIdsOfApplication(applicationId) {
      const rows = await db.selectFrom('oauth_grants').select('id').where('application_id', '=', applicationId).where('revoked_at', 'is', null).execute();
      return rows.map((r) => Number(r.id));
    },
    async revokeGrant(id, at, reason) {
      const r = await db.updateTable('oauth_grants').set({ revoked_at: at, revoke_reason: reason }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return { ended: Number(r.numUpdatedRows) > 0, tokenIds: await revokeTokens([id], at) };
    },
    revokeAccessTokensOfGrant: (grantId, at) => revokeTokens([grantId], at),

    async insertRefreshToken(r) {
      await db.insertInto('oauth_refresh_tokens').values({ grant_id: r.grantId, digest: r.digest, created_at: r.createdAt, used_at: null }).execute();
    },
    async findRefreshTokenByDigest(digest) {
      const r = await db.selectFrom('oauth_refresh_tokens').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r ? { id: Number(r.id), grantId: Number(r.grant_id), createdAt: r.created_at, usedAt: r.used_at } : null;
    },
    async markRefreshTokenUsed(id, at) {
      const r = await db.updateTable('oauth_refresh_tokens').set({ used_at: at }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async linkAccessToken(tokenId, grantId) {
      await db.insertInto('oauth_access_tokens').values({ token_id: tokenId, grant_id: grantId }).execute();
    },
    async grantOfAccessToken(tokenId) {
      const r = await db.selectFrom('oauth_access_tokens as a').innerJoin('oauth_grants as g', 'g.id', 'a.grant_id').selectAll('g').where('a.token_id', '=', tokenId).executeTakeFirst();
      return r ? toGrant(r) : null;
    },

    async insertDeviceCode(d) {
      await db
        .insertInto('oauth_device_codes')
        .values({ device_digest: d.deviceDigest, user_code_digest: d.userCodeDigest, application_id: d.applicationId, scopes: JSON.stringify(d.scopes), created_at: d.createdAt, expires_at: d.expiresAt, last_polled_at: null, user_id: null, approved_at: null, denied_at: null, used_at: null })
        .execute();
    },
    async findDeviceCodeByDeviceDigest(digest) {
      const r = await db.selectFrom('oauth_device_codes').selectAll().where('device_digest', '=', digest).executeTakeFirst();
      return r ? toDeviceCode(r) : null;
    },
    async findDeviceCodeByUserCodeDigest(digest) {
      const r = await db.selectFrom('oauth_device_codes').selectAll().where('user_code_digest', '=', digest).executeTakeFirst();
      return r ? toDeviceCode(r) : null;
    },
    async decideDeviceCode(id, userId, decision, at) {
      const r = await db
        .updateTable('oauth_device_codes')
        .set(decision === 'approved' ? { user_id: userId, approved_at: at } : { user_id: userId, denied_at: at })
        .where('id', '=', id)
        .where('approved_at', 'is', null)
        .where('denied_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async markDeviceCodePolled(id, at) {
      await db.updateTable('oauth_device_codes').set({ last_polled_at: at }).where('id', '=', id).execute();
    },
    async markDeviceCodeUsed(id, at) {
      const r = await db.updateTable('oauth_device_codes').set({ used_at: at }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async liveGrantsOfUser(userId) {
      const rows = await db
        .selectFrom('oauth_grants as g')
        .innerJoin('oauth_applications as a', 'a.id', 'g.application_id')
        .selectAll('g')
        .select(['a.name as application_name', 'a.uid as application_uid'])
        .where('g.user_id', '=', userId)
        .where('g.revoked_at', 'is', null)
        .orderBy('g.id')
        .execute();
      return rows.map((r) => ({ grant: toGrant(r), applicationName: r.application_name, applicationUid: r.application_uid }));
    },

    async prune(codesBefore, refreshBefore) {
      const codes = await db.deleteFrom('oauth_codes').where('expires_at', '<', codesBefore).executeTakeFirst();
      const deviceCodes = await db.deleteFrom('oauth_device_codes').where('expires_at', '<', codesBefore).executeTakeFirst();
      const revokedGrants = db.selectFrom('oauth_grants').select('id').where('revoked_at', '<', refreshBefore);
      const refreshTokens = await db
        .deleteFrom('oauth_refresh_tokens')
        .where((eb) => eb.or([eb('used_at', '<', refreshBefore), eb('grant_id', 'in', revokedGrants)]))
        .executeTakeFirst();
      return { codes: Number(codes.numDeletedRows), deviceCodes: Number(deviceCodes.numDeletedRows), refreshTokens: Number(refreshTokens.numDeletedRows) };
    },

    transaction: (fn) => db.transaction().execute((trx) => fn({ ...createOAuthStore(trx), tokens: createTokenStore(trx) })),
  };
  return store;
}

/** Live grants (not revoked) whose refresh expires after `now` and before the end of `until` (a UTC date): the expiring report. */
export function createOAuthGrantOverview(db: Kysely<Database>) {
  return {
    async expiringBy({ now, until }: { now: string; until: string }) {
      const rows = await db
        .selectFrom('oauth_grants as g')
        .innerJoin('oauth_applications as a', 'a.id', 'g.application_id')
        .innerJoin('users as u', 'u.id', 'g.user_id')
        .select(['g.id', 'g.scopes', 'g.expires_at', 'g.user_id', 'a.name as application_name', 'u.username'])
        .where('g.revoked_at', 'is', null)
        .where('g.expires_at', 'is not', null)
        .where('g.expires_at', '>', now)
        .where('g.expires_at', '<=', `${until}T23:59:59.999Z`)
        .orderBy('g.expires_at')
        .orderBy('g.id')
        .execute();
      return rows.map((r) => ({ id: Number(r.id), applicationName: r.application_name, userId: Number(r.user_id), username: r.username, scopes: JSON.parse(r.scopes) as string[], expiresAt: r.expires_at! }));
    },
  };
}
