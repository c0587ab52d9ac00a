/**
 * A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL in the outage tests), to simulate the
 * network or the database going away without touching the shared server: `cut()` resets every open
 * connection and every new one until `restore()`. That is what a client sees when the database
 * restarts or fails over (ECONNRESET, "Connection terminated unexpectedly").
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Resets open connections and refuses new ones (accept, then reset). */
  cut(): void;
  restore(): void;
  /** Connections accepted and passed through so far. */
  readonly passedThrough: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let down = false;
  let passedThrough = 0;
  const server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    passedThrough++;
    const upstream = createConnection(target);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    cut() {
      down = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    restore() {
      down = false;
    },
    get passedThrough() {
      return passedThrough;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
