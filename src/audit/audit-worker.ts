/**
 * The audit worker thread (started by audit-worker-appender.ts): opens its own connection to the database
 * (connectDatabase: the same SQLite pragmas and PostgreSQL pool settings as the store's; no migrations, the
 * main thread ran them; none of the store's other modules loaded), and for each batch does what the
 * writer does in-thread: enrichment look-ups, then one chained append transaction. Appends from the main
 * thread's connection (the outbox relay) and other nodes queue on the chain head as before.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import { connectDatabase } from '../store/connect-database.js';
import type { Database } from '../store/database.js';
import { createAuditStore, type AuditStore } from './audit-store.js';
import type { AuditWorkerData, AuditWorkerReply, AuditWorkerRequest } from './audit-worker-appender.js';
import { enrichRecords } from './audit-writer.js';

const port = parentPort!;
const { location, durable = false } = workerData as AuditWorkerData;

/** Opened at the first batch; a failed open is tried again at the next one. */
let opening: Promise<{ db: Kysely<Database>; audit: AuditStore }> | null = null;
function open(): Promise<{ db: Kysely<Database>; audit: AuditStore }> {
  if (!opening) {
    const attempt = Promise.resolve().then(() => {
      // Listed as `latchkey-audit` in PostgreSQL's pg_stat_activity.
      const { db } = connectDatabase(location, { applicationName: 'latchkey-audit' });
      return { db, audit: createAuditStore(db) };
    });
    attempt.catch(() => {
      if (opening === attempt) opening = null;
    });
    opening = attempt;
  }
  return opening;
}

async function handle(message: AuditWorkerRequest): Promise<void> {
  if ('close' in message) {
    const opened = await opening?.catch(() => null);
    opening = null;
    await opened?.db.destroy();
    return;
  }
  const { audit } = await open();
  await audit.append(await enrichRecords(audit, message.batch), { relaxed: !durable });
}

port.on('message', (message: AuditWorkerRequest) => {
  handle(message).then(
    () => port.postMessage({ id: message.id, ok: true } satisfies AuditWorkerReply),
    (e: unknown) => {
      const error = e as Error;
      const cause = (error.cause as Error | undefined)?.message;
      port.postMessage({ id: message.id, ok: false, message: error?.message ?? String(e), ...(cause ? { cause } : {}) } satisfies AuditWorkerReply);
    },
  );
});
