/**
 * GitLab's generic package file endpoints: PUT uploads (the raw body, streamed to disk, never parsed or
 * buffered, so Fastify's bodyLimit does not apply: LATCHKEY_PACKAGE_MAX_BYTES does), GET downloads.
 * Authentication is the API's (src/http/plugins/authenticate.ts), which here also admits deploy tokens
 * (`Deploy-Token:` or Basic with any user name) with their package registry scopes.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { User } from '../../namespaces/namespace.js';
import type { Token } from '../../tokens/token.js';
import { readCoordinates, readSelect, readStatus } from '../../protocols/generic-packages/package-names.js';
import type { PackageCaller } from '../../protocols/generic-packages/package-service.js';
import type { PackageFile } from '../../protocols/generic-packages/package-store.js';
import type { RouteContext } from '../route-context.js';

const PackageFileParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 2048, description: 'ID or URL-encoded full path of the project' }),
  package_name: Type.String({ description: 'Letters, digits, `.`, `_`, `-`, `+`' }),
  package_version: Type.String({ description: 'Letters, digits, `.`, `_`, `-`, `+`; no `..`' }),
  file_name: Type.String({ description: 'Letters, digits, `.`, `_`, `-`, `+`' }),
});

const UploadQuery = Type.Object({
  status: Type.Optional(Type.String({ description: '`default` or `hidden`' })),
  select: Type.Optional(Type.String({ description: '`package_file`: answer with the created file record' })),
});

type Params = { id: string; package_name: string; package_version: string; file_name: string };

/** The package file record GitLab answers with `select=package_file`. */
function presentPackageFile(f: PackageFile) {
  return {
    id: f.id,
    package_id: f.packageId,
    created_at: f.createdAt,
    updated_at: f.createdAt,
    size: f.size,
    file_store: 1,
    file_md5: null,
    file_sha1: null,
    file_name: f.fileName,
    file: { url: `/packages/${f.packageId}/files/${f.id}/${f.fileName}` },
    file_sha256: f.sha256,
    verification_retry_at: null,
    verified_at: null,
    verification_failure: null,
    verification_retry_count: null,
    verification_checksum: null,
    verification_state: 0,
    verification_started_at: null,
    new_file_path: null,
  };
}

/** The headers of a download (the fast lane sends a cached one with the same). */
export const packageFileHeaders = (file: PackageFile): Record<string, string> => ({
  'content-type': 'application/octet-stream',
  'content-disposition': `attachment; filename="${file.fileName}"`,
  'content-length': String(file.size),
  'x-checksum-sha256': file.sha256,
});

const callerOf = (request: FastifyRequest): PackageCaller => ({ token: (request.authToken as Token | null) ?? null, user: (request.actor as User | null) ?? null });

export function registerGenericPackageRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const { genericPackages } = ctx.services;
  const tags = ['packages'];
  const url = '/projects/:id/packages/generic/:package_name/:package_version/:file_name';

  // Own scope: the body stays a stream for the handler, whatever its content type (curl -T sends none).
  api.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    scope.put<{ Params: Params; Querystring: { status?: string; select?: string } }>(
      url,
      {
        schema: {
          tags,
          summary: 'Upload a generic package file (deploy token with write_package_registry, or Developer+ with api)',
          params: PackageFileParams,
          querystring: UploadQuery,
          response: {
            200: { description: 'With select=package_file: the stored file', type: 'object', additionalProperties: true },
            201: Type.Object({ message: Type.String() }, { description: 'Stored' }),
          },
        },
      },
      async (request, reply) => {
        const coordinates = readCoordinates(request.params);
        const status = readStatus(request.query.status);
        const select = readSelect(request.query.select);
        const length = Number(request.headers['content-length']);
        const body = request.body instanceof Readable ? request.body : Readable.from([]);
        const file = await genericPackages.upload(callerOf(request), request.params.id, coordinates, {
          status,
          contentLength: Number.isFinite(length) ? length : null,
          body,
        });
        if (select === 'package_file') return reply.status(200).send(presentPackageFile(file));
        return reply.status(201).send({ message: '201 Created' });
      },
    );

    scope.get<{ Params: Params }>(
      url,
      {
        // A public project's files download without a token (GitLab's behaviour); anything else still needs one.
        config: { anonymous: true },
        schema: { tags, summary: 'Download a generic package file, the newest upload of that name (read_package_registry, or Reporter+; a public project’s without a token)', params: PackageFileParams },
      },
      async (request, reply) => {
        const coordinates = readCoordinates(request.params);
        const { file, content } = await genericPackages.download(callerOf(request), request.params.id, coordinates);
        return reply.headers(packageFileHeaders(file)).send(content);
      },
    );
  });
}
