// The audit worker started from the TypeScript sources (tests, `latchkey` run on src/): tsx's loader is
// registered in this thread first, as bin/latchkey.mjs does in the main one.
import { register } from 'tsx/esm/api';

register();
await import('./audit-worker.ts');
