/** The audit module as app.ts wires it: the batch writer, the outbox relay's audit sink, the read/verify service. */
import type { Clock } from '../kernel/clock.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { Store } from '../store/open-store.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { createAuditService } from './audit-service.js';
import { createAuditSink } from './audit-sink.js';
import { createAuditStore } from './audit-store.js';
import { createWorkerAppender } from './audit-worker-appender.js';
import { createAuditWriter, inThreadAppender, type AuditWriterDeps } from './audit-writer.js';

export interface AuditModuleDeps {
  store: Store;
  clock: Clock;
  namespaces: NamespaceService;
  digester: TokenDigester;
  maxQueue: number;
  flushMs: number;
  /** LATCHKEY_AUDIT_REQUIRED: requests are refused while the log cannot be written. */
  required?: boolean;
  /**
   * LATCHKEY_AUDIT_WORKER (default off): batches written by a worker thread on its own connection. An
   * in-memory SQLite database cannot be shared with one: there they are always written in-thread.
   */
  worker?: boolean;
  onError?: (error: unknown) => void;
  onWritten?: AuditWriterDeps['onWritten'];
  onDropped?: AuditWriterDeps['onDropped'];
}

export type AuditModule = ReturnType<typeof createAuditModule>;

export function createAuditModule({ store, clock, namespaces, digester, maxQueue, flushMs, required, worker = true, onError, onWritten, onDropped }: AuditModuleDeps) {
  const auditStore = createAuditStore(store.db);
  const inMemory = store.location.kind === 'sqlite' && store.location.file === ':memory:';
  const durable = required === true;
  const appender = worker && !inMemory ? createWorkerAppender({ location: store.location, durable }) : inThreadAppender(auditStore, { durable });
  const writer = createAuditWriter({ store: auditStore, appender, maxQueue, flushMs, required, onError, onWritten, onDropped });
  return {
    writer,
    sink: createAuditSink(auditStore, writer),
    service: createAuditService({ store: auditStore, namespaces, digester, clock }),
  };
}
