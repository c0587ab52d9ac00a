/**
 * The download's file look-up, (project, package, version, file name) → the newest file record, kept
 * for a short time: CI downloads the same file over and over, and each download otherwise costs one
 * query (on SQLite, inside the server process). Only found files are kept; a miss is asked afresh.
 *
 * An upload on this node drops the entry of its coordinates when its row is committed, and a look-up
 * that was running while any upload committed does not keep what it read (it may predate the upload),
 * so this node serves the new version at once. Another node's upload (several nodes sharing
 * PostgreSQL) reaches this one within the time to live (LATCHKEY_VERIFY_CACHE_MS, as the decision
 * caches); 0 turns the cache off. Bounded in estimated bytes and entries; the oldest go first.
 */
import type { Clock } from '../../kernel/clock.js';
import type { PackageCoordinates } from './package-names.js';
import type { PackageFile } from './package-store.js';

export interface PackageFileCacheDeps {
  clock: Clock;
  /** How long a look-up is reused; 0 turns the cache off. */
  ttlMs: number;
  /** Bound on the estimated heap bytes of the entries (keys included). */
  maxBytes?: number;
  maxEntries?: number;
}

interface Entry {
  readonly file: PackageFile;
  readonly until: number;
  readonly bytes: number;
}

/** Default bound: a few thousand files' records. */
export const DEFAULT_PACKAGE_FILE_CACHE_BYTES = 4 * 1024 * 1024;

/** Heap bytes of an entry, on the high side: the key twice (Map slot), the record and its strings (two bytes a character). */
export function estimatePackageFileBytes(key: string, file: PackageFile): number {
  return 200 + 2 * key.length + 2 * (file.fileName.length + file.sha256.length + file.createdAt.length) + 3 * 32;
}

export type PackageFileCache = ReturnType<typeof createPackageFileCache>;

export function createPackageFileCache({ clock, ttlMs, maxBytes = DEFAULT_PACKAGE_FILE_CACHE_BYTES, maxEntries = 20_000 }: PackageFileCacheDeps) {
  const entries = new Map<string, Entry>();
  let cachedBytes = 0;
  /** Counts uploads committed: a look-up that saw it change while it ran does not keep what it read. */
  let uploads = 0;

  const keyOf = (projectId: number, c: PackageCoordinates) => `${projectId}\n${c.packageName}\n${c.version}\n${c.fileName}`;

  function drop(key: string): void {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    cachedBytes -= entry.bytes;
  }

  return {
    /**
     * The newest file at these coordinates: the kept record while fresh, else `lookUp`'s answer (kept
     * when found and no upload committed meanwhile).
     */
    async find(projectId: number, c: PackageCoordinates, lookUp: () => Promise<PackageFile | null>): Promise<PackageFile | null> {
      if (ttlMs <= 0) return lookUp();
      const key = keyOf(projectId, c);
      const held = entries.get(key);
      const now = clock.now().getTime();
      if (held !== undefined) {
        if (held.until > now) return held.file;
        drop(key);
      }
      const epoch = uploads;
      const file = await lookUp();
      if (file === null || uploads !== epoch) return file;
      const bytes = estimatePackageFileBytes(key, file);
      if (bytes > maxBytes) return file;
      drop(key);
      for (const [oldest, entry] of entries) {
        if (entries.size < maxEntries && cachedBytes + bytes <= maxBytes) break;
        entries.delete(oldest);
        cachedBytes -= entry.bytes;
      }
      entries.set(key, { file, until: now + ttlMs, bytes });
      cachedBytes += bytes;
      return file;
    },

    /** The kept record while fresh (what `find` would answer without a look-up), else null; changes nothing. */
    peek(projectId: number, c: PackageCoordinates): PackageFile | null {
      if (ttlMs <= 0) return null;
      const held = entries.get(keyOf(projectId, c));
      return held !== undefined && held.until > clock.now().getTime() ? held.file : null;
    },

    /** An upload to these coordinates committed: its entry goes, and running look-ups keep nothing. */
    uploaded(projectId: number, c: PackageCoordinates): void {
      uploads++;
      drop(keyOf(projectId, c));
    },

    /** What the cache holds now (tests). */
    size(): { entries: number; bytes: number } {
      return { entries: entries.size, bytes: cachedBytes };
    },
  };
}
