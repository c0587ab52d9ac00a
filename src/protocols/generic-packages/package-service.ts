/**
 * The generic package registry (GitLab's doc/user/packages/generic_packages): upload and download of
 * package files. Owns who may: a deploy token of the project or of one of its ancestor groups (its
 * scopes were checked by the API auth: read/write_package_registry); a user token by the user's
 * membership — Reporter+ downloads, Developer+ uploads. Projects the caller cannot see are 404.
 * Visibility (namespaces/visibility.ts): anyone downloads from a public project, without a token (a
 * request without one is refused with 401 elsewhere, so it learns nothing about other projects), and
 * any signed-in user from an internal one. Uploading always takes membership or a deploy token.
 * Bytes go to PackageBlobs (streamed, size-capped), metadata to PackageStore.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../../kernel/clock.js';
import { forbidden, invalidParam, invalidRecord, notFound, unauthenticated } from '../../kernel/errors.js';
import { AccessLevel } from '../../namespaces/access-levels.js';
import type { Project, User } from '../../namespaces/namespace.js';
import type { NamespaceService } from '../../namespaces/namespace-service.js';
import type { NamespaceStore } from '../../namespaces/namespace-store.js';
import { isVisibleWithoutMembership } from '../../namespaces/visibility.js';
import type { Token } from '../../tokens/token.js';
import { PackageTooLarge, type PackageBlobs } from './package-blobs.js';
import type { PackageCoordinates, PackageStatus } from './package-names.js';
import type { PackageFile, PackageStore } from './package-store.js';
import type { DecisionCache } from '../decision-cache.js';
import type { PackageFileCache } from './package-file-cache.js';

/** Who calls: a verified token and its user (null for a deploy token), or nobody (`token` null). */
export interface PackageCaller {
  readonly token: Token | null;
  readonly user: User | null;
}

export interface GenericPackageServiceDeps {
  namespaces: NamespaceService;
  namespaceStore: NamespaceStore;
  packages: PackageStore;
  blobs: PackageBlobs;
  clock: Clock;
  /** LATCHKEY_PACKAGE_MAX_BYTES: the largest file accepted. */
  maxBytes: number;
  /** Which project a token may read or write, per (token, action, project) for a short time (protocols/decision-cache.ts). */
  decisions?: DecisionCache<Project>;
  /** The download's file look-up for a short time, dropped by an upload (package-file-cache.ts). */
  files?: PackageFileCache;
}

const BROKEN_BODY_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'ECONNABORTED']);
const tooLarge = () => invalidRecord('400 Bad request - File is too large', 'PACKAGE_TOO_LARGE');
const projectNotFound = () => notFound('Project Not Found', 'PROJECT_NOT_FOUND');
// GitLab answers a missing package or file with its RecordNotFound body.
const fileNotFound = () => notFound('Not found', 'PACKAGE_FILE_NOT_FOUND');

export type GenericPackageService = ReturnType<typeof createGenericPackageService>;

export function createGenericPackageService({ namespaces, namespaceStore, packages, blobs, clock, maxBytes, decisions, files }: GenericPackageServiceDeps) {
  /**
   * The project, if the caller may read (download) or write (upload) there; deploy tokens reach their
   * projects and their scopes decide.
   */
  const decisionKey = (action: 'read' | 'write', idOrPath: string) => `${action}\n${idOrPath}`;

  async function authorize(caller: PackageCaller, idOrPath: string, action: 'read' | 'write'): Promise<Project> {
    if (caller.token === null) return decide(caller, idOrPath, action);
    // Only what was allowed is kept: a refusal is decided afresh each time.
    const key = decisionKey(action, idOrPath);
    const known = decisions?.get(caller.token.id, key);
    if (known !== undefined) return known;
    const project = await decide(caller, idOrPath, action);
    decisions?.set(caller.token.id, caller.user?.id ?? null, key, project);
    return project;
  }

  async function decide(caller: PackageCaller, idOrPath: string, action: 'read' | 'write'): Promise<Project> {
    if (caller.token === null) {
      // Only a public project's files are there for nobody; otherwise the client must authenticate.
      const project = action === 'read' ? await namespaces.findProject(null, idOrPath).then((f) => f.project, () => null) : null;
      if (!project) throw unauthenticated('PACKAGE_NEEDS_CREDENTIALS');
      return project;
    }
    if (caller.user) {
      const { project, level } = await namespaces.findProject(caller.user, idOrPath);
      const allowed = action === 'read' ? await namespaces.canReadContent(caller.user, project) : level >= AccessLevel.DEVELOPER;
      if (!allowed) throw forbidden();
      return project;
    }
    if (caller.token.kind !== 'deploy') throw forbidden();
    const resource = await namespaces.resolveResourceAsAdmin('project', idOrPath);
    const project = (resource as Extract<typeof resource, { type: 'project' }>).project;
    if (caller.token.projectId === project.id) return project;
    if (caller.token.groupId !== null) {
      const group = await namespaceStore.findGroupById(project.groupId);
      if (group?.ancestorIds.includes(caller.token.groupId)) return project;
    }
    // Any credential reads what nobody may (a public project); otherwise another project's deploy token learns nothing about this one.
    if (action === 'read' && isVisibleWithoutMembership(project.visibility, 'anonymous')) return project;
    throw projectNotFound();
  }

  return {
    async upload(caller: PackageCaller, idOrPath: string, coordinates: PackageCoordinates, input: { status: PackageStatus | null; contentLength: number | null; body: Readable }): Promise<PackageFile> {
      const project = await authorize(caller, idOrPath, 'write');
      if (input.contentLength !== null && input.contentLength > maxBytes) throw tooLarge();
      let blob;
      try {
        blob = await blobs.write(input.body, maxBytes);
      } catch (e) {
        if (e instanceof PackageTooLarge) throw tooLarge();
        // The client went away mid-upload: its fault, not a server error (nothing was kept).
        if (BROKEN_BODY_CODES.has((e as NodeJS.ErrnoException).code ?? '')) throw invalidParam('The request body is incomplete', 'PACKAGE_BODY_INCOMPLETE');
        throw e;
      }
      try {
        return await packages.insertFile({
          projectId: project.id,
          ...coordinates,
          status: input.status,
          size: blob.size,
          sha256: blob.sha256,
          at: clock.now().toISOString(),
          createdByTokenId: caller.token!.id,
          createdByUserId: caller.user?.id ?? null,
        });
      } finally {
        // Committed (or not): a download of these coordinates reads the newest row again.
        files?.uploaded(project.id, coordinates);
      }
    },

    /**
     * The fast lane's download (http/fast-lane.ts): what `download` would answer for a token when all of
     * it is in memory — the read decision in the decision cache, the file record in the file cache, its
     * bytes held by the blob store. Null otherwise (then `download` does it all); no side effect either way.
     */
    downloadCached(caller: { token: Token; user: User | null }, idOrPath: string, c: PackageCoordinates): { file: PackageFile; content: Buffer } | null {
      const project = decisions?.get(caller.token.id, decisionKey('read', idOrPath));
      const file = project === undefined ? null : (files?.peek(project.id, c) ?? null);
      const content = file === null ? null : blobs.held(file.sha256);
      return file !== null && content !== null ? { file, content } : null;
    },

    async download(caller: PackageCaller, idOrPath: string, c: PackageCoordinates): Promise<{ file: PackageFile; content: Readable | Buffer }> {
      const project = await authorize(caller, idOrPath, 'read');
      const lookUp = () => packages.findLatestFile(project.id, c.packageName, c.version, c.fileName);
      const file = files ? await files.find(project.id, c, lookUp) : await lookUp();
      if (!file) throw fileNotFound();
      const content = await blobs.open(file.sha256);
      if (!content) throw fileNotFound();
      return { file, content };
    },
  };
}
