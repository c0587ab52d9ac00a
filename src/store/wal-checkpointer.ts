/**
 * SQLite's WAL checkpoints in a thread of their own, for `latchkey serve` on a file store. By default
 * SQLite checkpoints inside the commit that grows the WAL past 1,000 pages: on the connection that
 * serves requests (better-sqlite3 is synchronous), copying 4 MB of pages into the database and flushing
 * it, during which no request is served. Under a steady stream of audit and usage batches that happened
 * every second or so and set the tail of the request latencies.
 *
 * Here a worker thread with its own connection runs a PASSIVE checkpoint every `intervalMs` (it never
 * waits for readers or writers, and writers never wait for it), and the serving connection's own
 * automatic checkpoint moves out to `BACKSTOP_PAGES`: it still bounds the WAL should the worker stop or
 * fall behind. `stop()` restores the default and ends the thread. The worker loads nothing but
 * better-sqlite3 and runs under small heap limits.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

/** SQLite's default wal_autocheckpoint, restored on stop. */
const DEFAULT_PAGES = 1000;
/** The serving connection's own checkpoint while the worker runs: 80 MB of WAL at 4 KiB pages. */
export const BACKSTOP_PAGES = 20_000;

export interface CheckpointReport {
  /** Frames in the WAL, and how many of them are now in the database (SQLite's wal_checkpoint result). */
  readonly log: number;
  readonly checkpointed: number;
}

export interface WalCheckpointer {
  stop(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = normal');
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, message: String((e && e.message) || e) });
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export async function startWalCheckpointer({ db, file, intervalMs = 250, onReport = () => {}, onError = () => {} }: {
  /** The serving connection (its automatic checkpoint moves to the backstop). */
  db: Kysely<Database>;
  file: string;
  intervalMs?: number;
  onReport?: (report: CheckpointReport) => void;
  onError?: (error: Error) => void;
}): Promise<WalCheckpointer> {
  await sql.raw(`pragma wal_autocheckpoint = ${BACKSTOP_PAGES}`).execute(db);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, intervalMs },
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  worker.unref();
  let lastError: string | null = null;
  worker.on('message', (m: { ok: true; log: number; checkpointed: number } | { ok: false; message: string }) => {
    if (m.ok) {
      lastError = null;
      onReport({ log: m.log, checkpointed: m.checkpointed });
    } else if (m.message !== lastError) {
      // Once per distinct failure, not every interval.
      lastError = m.message;
      onError(new Error(`WAL checkpoint failed: ${m.message}`));
    }
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.once('error', (e) => onError(new Error(`WAL checkpointer stopped: ${e.message}; the serving connection checkpoints past ${BACKSTOP_PAGES} pages`)));
  void exit.then(() => (exited = true));
  return {
    async stop() {
      if (!exited) {
        worker.postMessage('stop');
        await exit;
      }
      await sql.raw(`pragma wal_autocheckpoint = ${DEFAULT_PAGES}`).execute(db);
    },
  };
}
