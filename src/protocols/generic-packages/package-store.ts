/**
 * Package metadata (Kysely, both dialects): a package per project, name and version, and every file
 * uploaded to it. Re-uploading a file name adds a row; downloads take the newest (GitLab's behaviour).
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, PackageFilesTable } from '../../store/database.js';
import { preparedQuery } from '../../store/prepared-query.js';
import type { PackageStatus } from './package-names.js';

export interface PackageFile {
  readonly id: number;
  readonly packageId: number;
  readonly fileName: string;
  readonly size: number;
  readonly sha256: string;
  readonly createdAt: string;
}

export interface NewPackageFile {
  projectId: number;
  packageName: string;
  version: string;
  status: PackageStatus | null;
  fileName: string;
  size: number;
  sha256: string;
  at: string;
  createdByTokenId: number;
  createdByUserId: number | null;
}

const toFile = (r: Selectable<PackageFilesTable>): PackageFile => ({
  id: r.id,
  packageId: r.package_id,
  fileName: r.file_name,
  size: Number(r.size),
  sha256: r.file_sha256,
  createdAt: r.created_at,
});

const GENERIC = 'generic';

export type PackageStore = ReturnType<typeof createPackageStore>;

export function createPackageStore(db: Kysely<Database>, isUniqueViolation: (e: unknown) => boolean) {
  // Every download runs it: built and compiled once (preparedQuery), then run with the request's values.
  const latestFile = preparedQuery(
    db,
    (projectId: number, packageName: string, version: string, fileName: string) =>
      db
        .selectFrom('package_files')
        .innerJoin('packages', 'packages.id', 'package_files.package_id')
        .selectAll('package_files')
        .where('packages.project_id', '=', projectId)
        .where('packages.package_type', '=', GENERIC)
        .where('packages.name', '=', packageName)
        .where('packages.version', '=', version)
        .where('package_files.file_name', '=', fileName)
        .orderBy('package_files.id', 'desc')
        .limit(1),
    [-1_000_001, '\u0000name', '\u0000version', '\u0000file'],
  );
  async function insertFile(trx: Kysely<Database>, f: NewPackageFile): Promise<PackageFile> {
    const existing = await trx
      .selectFrom('packages')
      .select('id')
      .where('project_id', '=', f.projectId)
      .where('package_type', '=', GENERIC)
      .where('name', '=', f.packageName)
      .where('version', '=', f.version)
      .executeTakeFirst();
    let packageId: number;
    if (existing) {
      packageId = existing.id;
      await trx.updateTable('packages').set({ updated_at: f.at, ...(f.status ? { status: f.status } : {}) }).where('id', '=', packageId).execute();
    } else {
      const row = await trx
        .insertInto('packages')
        .values({ project_id: f.projectId, package_type: GENERIC, name: f.packageName, version: f.version, status: f.status ?? 'default', created_at: f.at, updated_at: f.at })
        .returning('id')
        .executeTakeFirstOrThrow();
      packageId = row.id;
    }
    const file = await trx
      .insertInto('package_files')
      .values({ package_id: packageId, file_name: f.fileName, size: f.size, file_sha256: f.sha256, created_at: f.at, created_by_token_id: f.createdByTokenId, created_by_user_id: f.createdByUserId })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFile(file);
  }

  return {
    /** Records an uploaded file, creating its package when it is the first (one transaction). */
    async insertFile(f: NewPackageFile): Promise<PackageFile> {
      try {
        return await db.transaction().execute((trx) => insertFile(trx, f));
      } catch (e) {
        // Two first uploads of one package raced: the loser's package insert failed; the package exists now.
        if (!isUniqueViolation(e)) throw e;
        return db.transaction().execute((trx) => insertFile(trx, f));
      }
    },

    /** The newest file of that name in that package, or null. */
    async findLatestFile(projectId: number, packageName: string, version: string, fileName: string): Promise<PackageFile | null> {
      const [row] = await latestFile(projectId, packageName, version, fileName);
      return row ? toFile(row) : null;
    },
  };
}
