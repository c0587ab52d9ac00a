import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoTokenGenerator } from '../../kernel/random.js';
import { createPackageBlobs, PackageTooLarge } from './package-blobs.js';

const text = async (r: Readable | Buffer) => {
  if (Buffer.isBuffer(r)) return r.toString('utf8');
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

describe('package blobs on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lk-blobs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stores a stream by its sha256 and reads it back', async () => {
    const blobs = createPackageBlobs(dir, cryptoTokenGenerator);
    const stored = await blobs.write(Readable.from([Buffer.from('hello '), Buffer.from('world')]), 100);
    expect(stored).toEqual({ sha256: createHash('sha256').update('hello world').digest('hex'), size: 11 });
    expect(await text((await blobs.open(stored.sha256))!)).toBe('hello world');
    expect(await blobs.open('0'.repeat(64))).toBeNull();
    await expect(blobs.open('../../etc/passwd')).rejects.toThrow('not a sha256');
  });

  it('keeps small files in memory once read (their name is their hash); larger ones are streamed each time', async () => {
    const blobs = createPackageBlobs(dir, cryptoTokenGenerator);
    const small = await blobs.write(Readable.from([Buffer.from('small file')]), 1 << 20);
    const large = await blobs.write(Readable.from([Buffer.alloc(100 * 1024, 7)]), 1 << 20);
    expect(Buffer.isBuffer(await blobs.open(small.sha256))).toBe(true);
    expect(await blobs.open(large.sha256)).toBeInstanceOf(Readable);
    const pathOf = (sha256: string) => join(dir, 'sha256', sha256.slice(0, 2), sha256);
    await unlink(pathOf(small.sha256));
    await unlink(pathOf(large.sha256));
    expect(await text((await blobs.open(small.sha256))!)).toBe('small file');
    expect(await blobs.open(large.sha256)).toBeNull();
  });

  it('keeps nothing when the body is too large or breaks off', async () => {
    const blobs = createPackageBlobs(dir, cryptoTokenGenerator);
    await expect(blobs.write(Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), 100)).rejects.toBeInstanceOf(PackageTooLarge);
    const broken = new Readable({ read() {} });
    broken.push(Buffer.alloc(10));
    setImmediate(() => broken.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
    await expect(blobs.write(broken, 100)).rejects.toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|ERR_STREAM_PREMATURE_CLOSE)$/) });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });
});
