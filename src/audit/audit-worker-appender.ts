/**
 * The audit writer's batches written by a worker thread (audit-worker.ts) on its own database connection:
 * enrichment, the SHA-256 chain, the multi-row INSERT and the commit cost ~25 µs an entry, which no longer
 * come out of the one thread that serves requests. The queue, backpressure and failure handling stay in
 * the writer (audit-writer.ts): this only carries a batch over (plain data, structured clone) and brings
 * back `ok` or the error, which leaves the batch queued as an in-thread failure would.
 *
 * The worker starts at the first batch. If it dies, the batch in flight fails and the next attempt starts a
 * new one, at most one start per `restartMs` (attempts in between fail with the reason at once). It is
 * unreferenced while idle, so it never keeps a process alive, and referenced while a batch is in flight, so
 * a clean stop that is writing its last entries waits for them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DatabaseLocation } from '../store/open-store.js';
import type { AuditAppender, AuditRecord } from './audit-writer.js';

/** What the worker is started with. */
export interface AuditWorkerData {
  readonly location: DatabaseLocation;
  /** LATCHKEY_AUDIT_REQUIRED: commits wait for the disk (see inThreadAppender). */
  readonly durable?: boolean;
}

export type AuditWorkerRequest = { readonly id: number; readonly batch: readonly AuditRecord[] } | { readonly id: number; readonly close: true };
export type AuditWorkerReply = { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly message: string; readonly cause?: string };

/** Least time between two starts of a worker after one died. */
const RESTART_MS = 1000;
/** Longest wait for the worker to close its store on close() before it is terminated anyway. */
const CLOSE_WAIT_MS = 5000;

/**
 * Starts audit-worker: the compiled .js beside this module (dist/, how `latchkey serve` runs), else the
 * TypeScript source through audit-worker-tsx.mjs, which registers tsx's loader in the worker first (tests, and
 * `latchkey` run on the sources).
 */
export function spawnAuditWorker(data: AuditWorkerData): Worker {
  const js = new URL('./audit-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: data });
  return new Worker(new URL('./audit-worker-tsx.mjs', import.meta.url), { workerData: data });
}

export interface WorkerAppenderDeps {
  readonly location: DatabaseLocation;
  /** LATCHKEY_AUDIT_REQUIRED: commits wait for the disk (see inThreadAppender). */
  readonly durable?: boolean;
  /** How a worker is started (tests wrap it to reach the thread). */
  readonly spawn?: (data: AuditWorkerData) => Worker;
  readonly restartMs?: number;
  readonly now?: () => number;
}

export function createWorkerAppender({ location, durable = false, spawn = spawnAuditWorker, restartMs = RESTART_MS, now = Date.now }: WorkerAppenderDeps): AuditAppender {
  let worker: Worker | null = null;
  let pending: { id: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  let nextId = 1;
  /** When the last worker died unasked, and why: no new one before `restartMs` has passed. */
  let diedAt = Number.NEGATIVE_INFINITY;
  let deathReason: Error | null = null;
  let closed = false;

  function settle(outcome: Error | null): void {
    const p = pending;
    if (!p) return;
    pending = null;
    worker?.unref();
    if (outcome) p.reject(outcome);
    else p.resolve();
  }

  function died(w: Worker, reason: Error): void {
    if (worker !== w) return;
    worker = null;
    diedAt = now();
    deathReason = reason;
    void w.terminate().catch(() => {});
    settle(reason);
  }

  function start(): Worker {
    const w = spawn({ location, durable });
    w.unref();
    w.on('message', (reply: AuditWorkerReply) => {
      if (worker !== w || pending?.id !== reply.id) return;
      settle(reply.ok ? null : new Error(reply.message, reply.cause === undefined ? undefined : { cause: new Error(reply.cause) }));
    });
    w.on('error', (e) => died(w, new Error(`audit worker failed: ${e.message}`)));
    w.on('exit', (code) => died(w, new Error(`audit worker exited (code ${code})`)));
    return w;
  }

  function request(message: AuditWorkerRequest): Promise<void> {
    if (pending) return Promise.reject(new Error('audit worker: one batch at a time'));
    if (!worker) {
      const since = now() - diedAt;
      if (since < restartMs) return Promise.reject(new Error(`${deathReason?.message ?? 'audit worker stopped'}; restarting in ${restartMs - since} ms`));
      worker = start();
    }
    const w = worker;
    return new Promise<void>((resolve, reject) => {
      pending = { id: message.id, resolve, reject };
      w.ref();
      w.postMessage(message);
    });
  }

  return {
    append(batch) {
      if (closed) return Promise.reject(new Error('audit writer closed'));
      return request({ id: nextId++, batch });
    },

    async close() {
      if (closed) return;
      closed = true;
      const w = worker;
      if (!w) return;
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([request({ id: nextId++, close: true }), new Promise<void>((resolve) => (timeout = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      } finally {
        clearTimeout(timeout);
        worker = null;
        settle(null);
        await w.terminate();
      }
    },
  };
}
