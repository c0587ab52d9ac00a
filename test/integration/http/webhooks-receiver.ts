/**
 * A real HTTP receiver for webhook tests (node:http on 127.0.0.1, a free port), and the README's
 * verification snippet loaded as users would copy it.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Received {
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The status this receiver answered. */
  status: number;
}

export type Mode = 'ok' | 'fail' | 'slow';

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  mode: Mode;
  /** Stops listening: connections are refused until `listen()` again on the same port. */
  down(): Promise<void>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(slowMs = 1500): Promise<Receiver> {
  const received: Received[] = [];
  let server: Server | null = null;
  let port = 0;
  const state = { mode: 'ok' as Mode };
  const make = () =>
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const mode = state.mode;
        if (mode === 'slow') {
          const timer = setTimeout(() => res.writeHead(200).end('late'), slowMs);
          res.on('close', () => clearTimeout(timer));
          received.push({ headers: req.headers, rawBody, status: 0 });
          return;
        }
        const status = mode === 'ok' ? 200 : 500;
        received.push({ headers: req.headers, rawBody, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(mode === 'ok' ? 'thanks' : 'receiver broken');
      });
    });
  const listen = async () => {
    server = make();
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server!.address() as { port: number }).port;
  };
  const down = async () => {
    if (!server) return;
    const s = server;
    server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    down,
    listen,
    close: down,
  };
}

type Verify = (secret: string, rawBody: string, headers: Record<string, unknown>, nowMs?: number) => boolean;

/** The `<!-- webhook-verify -->` snippet of README.md, written to a module and imported unchanged. */
export async function readmeVerifier(): Promise<Verify> {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const match = /<!-- webhook-verify -->\n```js\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README.md has no webhook-verify snippet');
  const file = join(mkdtempSync(join(tmpdir(), 'latchkey-verify-')), 'verify.mjs');
  writeFileSync(file, match[1]!);
  const mod = (await import(pathToFileURL(file).href)) as { verifyLatchkeyDelivery: Verify };
  return mod.verifyLatchkeyDelivery;
}
