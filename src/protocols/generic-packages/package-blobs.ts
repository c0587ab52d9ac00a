/**
 * Package file bytes on disk, content-addressed: `<dir>/sha256/<ab>/<sha256>`. An upload streams to
 * `<dir>/tmp/<random>` while it is hashed and counted, then is renamed into place, so a reader never
 * sees a half-written file and no user input ever becomes part of a path. Past the limit the rest of
 * the body is read and dropped (not written), so the client still gets its 400 instead of a reset
 * connection, and the temp file is removed.
 *
 * Small files are kept in memory once read (content-addressed, so a name always holds the same bytes):
 * the files CI downloads over and over cost no open, stat and read each time. Bounded in bytes, the
 * oldest going first.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TokenGenerator } from '../../kernel/random.js';

export class PackageTooLarge extends Error {}

export interface StoredBlob {
  readonly sha256: string;
  readonly size: number;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

export type PackageBlobs = ReturnType<typeof createPackageBlobs>;

/** Files up to this size are kept in memory once read, up to `CACHED_BYTES` in all. */
const CACHED_FILE_MAX = 64 * 1024;
const CACHED_BYTES = 8 * 1024 * 1024;

export function createPackageBlobs(dir: string, random: TokenGenerator) {
  const cached = new Map<string, Buffer>();
  let cachedBytes = 0;
  const keep = (sha256: string, bytes: Buffer) => {
    for (const [oldest, b] of cached) {
      if (cachedBytes + bytes.length <= CACHED_BYTES) break;
      cached.delete(oldest);
      cachedBytes -= b.length;
    }
    cached.set(sha256, bytes);
    cachedBytes += bytes.length;
  };

  const pathOf = (sha256: string) => {
    if (!SHA256_RE.test(sha256)) throw new Error('not a sha256');
    return join(dir, 'sha256', sha256.slice(0, 2), sha256);
  };

  return {
    /** Streams `body` to disk; throws PackageTooLarge past `maxBytes` (nothing is kept then). */
    async write(body: Readable, maxBytes: number): Promise<StoredBlob> {
      // A body that breaks while the directory is made must not be an unhandled 'error': the pipeline
      // below still sees the stream destroyed and rejects.
      const ignoreEarlyError = () => {};
      body.on('error', ignoreEarlyError);
      const tmpDir = join(dir, 'tmp');
      const tmp = join(tmpDir, Buffer.from(random.randomBytes(16)).toString('hex'));
      const hash = createHash('sha256');
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          if (size > maxBytes) return done();
          hash.update(chunk);
          done(null, chunk);
        },
      });
      try {
        await mkdir(tmpDir, { recursive: true });
        await pipeline(body, meter, createWriteStream(tmp, { flags: 'wx' }));
        if (size > maxBytes) throw new PackageTooLarge('File is too large');
        const sha256 = hash.digest('hex');
        const final = pathOf(sha256);
        await mkdir(join(dir, 'sha256', sha256.slice(0, 2)), { recursive: true });
        await rename(tmp, final);
        return { sha256, size };
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw e;
      } finally {
        body.off('error', ignoreEarlyError);
      }
    },

    /** A blob's bytes when they are held in memory (what `open` would hand back at once), else null: no I/O. */
    held(sha256: string): Buffer | null {
      return cached.get(sha256) ?? null;
    },

    /** A stored blob: its bytes when small, else a read stream; null when its file is missing. */
    async open(sha256: string): Promise<Readable | Buffer | null> {
      // Held bytes first: only a checked name (pathOf) was ever kept.
      const held = cached.get(sha256);
      if (held !== undefined) return held;
      const path = pathOf(sha256);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        return null;
      }
      if (size > CACHED_FILE_MAX) return createReadStream(path);
      const bytes = await readFile(path);
      // Read whole, it is checked once against its name before it is served from memory.
      if (createHash('sha256').update(bytes).digest('hex') !== sha256) return createReadStream(path);
      keep(sha256, bytes);
      return bytes;
    },
  };
}
