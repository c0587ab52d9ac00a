import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../kernel/clock.js';
import { createPackageFileCache, estimatePackageFileBytes } from './package-file-cache.js';
import type { PackageFile } from './package-store.js';

const coordinates = { packageName: 'tool', version: '1.0.0', fileName: 'tool.tar.gz' };
const fileOf = (id: number): PackageFile => ({ id, packageId: 1, fileName: 'tool.tar.gz', size: 10, sha256: String(id).padStart(64, '0'), createdAt: '2026-12-03T10:00:00.000Z' });

describe('package file cache', () => {
  const setUp = (ttlMs = 1000, maxBytes?: number) => {
    const clock = new FakeClock('2026-12-03T10:00:00.000Z');
    let rows: PackageFile | null = fileOf(1);
    let queries = 0;
    const lookUp = async () => (queries++, rows);
    return { clock, cache: createPackageFileCache({ clock, ttlMs, maxBytes }), lookUp, set: (f: PackageFile | null) => (rows = f), queries: () => queries };
  };

  it('reuses a found file for its time to live, per project and coordinates; a missing file is asked each time', async () => {
    const { clock, cache, lookUp, set, queries } = setUp();
    expect(await cache.find(7, coordinates, lookUp)).toEqual(fileOf(1));
    expect(await cache.find(7, coordinates, lookUp)).toEqual(fileOf(1));
    expect(queries()).toBe(1);
    await cache.find(8, coordinates, lookUp);
    await cache.find(7, { ...coordinates, version: '1.0.1' }, lookUp);
    expect(queries()).toBe(3);
    clock.advance(999);
    await cache.find(7, coordinates, lookUp);
    expect(queries()).toBe(3);
    clock.advance(1);
    set(fileOf(2));
    expect(await cache.find(7, coordinates, lookUp)).toEqual(fileOf(2));
    set(null);
    expect(await cache.find(7, { ...coordinates, fileName: 'other' }, lookUp)).toBeNull();
    expect(await cache.find(7, { ...coordinates, fileName: 'other' }, lookUp)).toBeNull();
    expect(queries()).toBe(6);
  });

  it('serves the new file at once after an upload to the same coordinates', async () => {
    const { cache, lookUp, set, queries } = setUp(60_000);
    await cache.find(7, coordinates, lookUp);
    set(fileOf(2));
    cache.uploaded(7, coordinates);
    expect(await cache.find(7, coordinates, lookUp)).toEqual(fileOf(2));
    expect(queries()).toBe(2);
  });

  it('does not keep what a look-up read while an upload committed', async () => {
    const { cache } = setUp(60_000);
    let release!: (f: PackageFile) => void;
    const slow = cache.find(7, coordinates, () => new Promise((r) => (release = r)));
    // The upload commits (and is announced) while the old row is being read.
    cache.uploaded(7, coordinates);
    release(fileOf(1));
    expect(await slow).toEqual(fileOf(1));
    expect(await cache.find(7, coordinates, async () => fileOf(2))).toEqual(fileOf(2));
  });

  it('stays within its byte bound, dropping the oldest first; 0 ms caches nothing', async () => {
    const entry = estimatePackageFileBytes(`7\ntool\n1.0.0\ntool.tar.gz`, fileOf(1));
    const { cache, lookUp } = setUp(60_000, entry * 3 + 10);
    for (const v of ['1.0.0', '1.0.1', '1.0.2', '1.0.3']) await cache.find(7, { ...coordinates, version: v }, lookUp);
    expect(cache.size().entries).toBe(3);
    expect(cache.size().bytes).toBeLessThanOrEqual(entry * 3 + 10);
    let asked = 0;
    await cache.find(7, coordinates, async () => (asked++, fileOf(1)));
    expect(asked).toBe(1); // 1.0.0 was the oldest and went first

    const off = setUp(0);
    await off.cache.find(7, coordinates, off.lookUp);
    await off.cache.find(7, coordinates, off.lookUp);
    expect(off.queries()).toBe(2);
    expect(off.cache.size().entries).toBe(0);
  });
});
