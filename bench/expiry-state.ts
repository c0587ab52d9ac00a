/**
 * Puts a seeded store's expiry notices into the state a daily job leaves behind, as of today: every
 * active token in a notice window already has the notices of its window and the earlier ones (events
 * published, e-mails sent), except one token in `dueEvery`, which has its current one due. `dueEvery`
 * 0 leaves nothing due. A few INSERT … SELECT statements, on the server.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/store/database.js';
import { noticeBands, type NoticeInterval } from '../src/notifications/expiry-check.js';

const ORDER: NoticeInterval[] = ['60', '30', '7', 'expired'];

export async function settleExpiryNotices(db: Kysely<Database>, now: Date, dueEvery: number): Promise<void> {
  await db.deleteFrom('expiry_notice_deliveries').execute();
  await db.deleteFrom('expiry_notices').execute();
  const decidedAt = now.toISOString();
  for (const band of noticeBands(now)) {
    // The notices a token in this band has received so far: its window's, and the less urgent ones before.
    const given = ORDER.slice(0, ORDER.indexOf(band.interval) + 1);
    for (const interval of given) {
      const current = interval === band.interval;
      await sql`
        insert into expiry_notices (token_id, interval, expires_at, days_left, decided_at, event_published_at)
        select id, ${interval}, expires_at, 0, ${decidedAt}, ${decidedAt} from tokens
        where revoked_at is null and deleted_at is null and superseded_at is null and expires_at is not null
          and expires_at >= ${band.from} and expires_at <= ${band.to}
          ${current && dueEvery > 0 ? sql`and id % ${dueEvery} <> 0` : sql``}`.execute(db);
    }
  }
}

/** How many notices a run at `now` will decide after `settleExpiryNotices(db, now, dueEvery)`. */
export async function countDue(db: Kysely<Database>, now: Date, dueEvery: number): Promise<number> {
  if (dueEvery === 0) return 0;
  const bands = noticeBands(now);
  const r = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('revoked_at', 'is', null)
    .where('deleted_at', 'is', null)
    .where('superseded_at', 'is', null)
    .where('expires_at', '>=', bands[0]!.from)
    .where('expires_at', '<=', bands[bands.length - 1]!.to)
    .where(sql<boolean>`id % ${dueEvery} = 0`)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
