/**
 * A schema-driven fuzz pass over the app's own OpenAPI document (what schemathesis would do; it is not
 * packaged for Debian). For EVERY operation in the document — routes added later included — requests
 * are generated from its schemas with fast-check, valid ones and broken ones (wrong types, missing
 * required fields, out-of-range numbers, over-long and hostile strings), authenticated as an admin, and
 * each answer must be: never a 5xx, a status the document declares for that operation, and on a 4xx
 * a GitLab-shaped JSON body. First, the document itself is checked: 4xx answers documented, every
 * string bounded, boolean query parameters plain booleans, the web UI's pages left out.
 * FC_RUNS (runs per operation, default 20) and FC_SEED explore further by hand.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { encodeUrlValue, operationsOf, type JsonSchema, type Operation } from '../../support/openapi-operations.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const RUNS = Number(process.env.FC_RUNS ?? 20);

/** Strings that break stores and parsers, besides random ones. */
const HOSTILE = ['\u0000', 'a\u0000b', '\ud800', '\u202e', '../..', '%00', '%2F', "'; drop table users; --", '  ', '', '-1', '0', 'Infinity', 'true', 'null', '{}', '[]', '\\', '😀'];

const typesOf = (s: JsonSchema): string[] => (s.type === undefined ? [] : [s.type].flat());

/** Values that fit the schema (bounded: long strings are the invalid side's business). */
function valid(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => valid(s, depth)));
  const arb = (() => {
    switch (typesOf(schema)[0]) {
      case 'integer':
        return fc.integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 2_147_483_647, 2_147_483_647) });
      case 'number':
        return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'array':
        return depth > 3 ? fc.constant([]) : fc.array(valid(schema.items ?? {}, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
      case 'object': {
        if (depth > 3 || !schema.properties) return fc.constant({});
        const required = schema.required ?? [];
        return fc.record(Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, valid(s, depth + 1)])), { requiredKeys: required });
      }
      case 'string': {
        const maxLength = Math.min(schema.maxLength ?? 64, 64);
        const minLength = Math.min(schema.minLength ?? 0, maxLength);
        if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
        return fc.oneof(fc.string({ minLength, maxLength }), fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}$/).filter((s) => s.length >= minLength && s.length <= maxLength), fc.constantFrom('2027-01-31', 'api', 'read_repository'));
      }
      default:
        return fc.jsonValue({ maxDepth: 1 });
    }
  })();
  return schema.nullable ? fc.option(arb, { nil: null }) : arb;
}

/** Values the schema refuses, or that sit on its edges: wrong types, out of range, too long, hostile text. */
function broken(schema: JsonSchema): fc.Arbitrary<unknown> {
  const edges: fc.Arbitrary<unknown>[] = [
    fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 'x', [], {}, ...HOSTILE),
    fc.string({ unit: 'binary', maxLength: 30 }),
  ];
  if (schema.maxLength !== undefined && schema.maxLength <= 1024) edges.push(fc.constant('a'.repeat(schema.maxLength + 1)));
  if (schema.maximum !== undefined) edges.push(fc.constantFrom(schema.maximum + 1, Number.MAX_SAFE_INTEGER, 1e400));
  if (schema.minimum !== undefined) edges.push(fc.constantFrom(schema.minimum - 1, -2_147_483_649));
  return fc.oneof(...edges);
}

const field = (schema: JsonSchema) => fc.oneof({ weight: 3, arbitrary: valid(schema) }, { weight: 1, arbitrary: broken(schema) });

/** A body: the schema's object with now and then a field broken or a required one dropped, or no object at all. */
function body(schema: JsonSchema): fc.Arbitrary<unknown> {
  const props = schema.properties ?? {};
  const asObject = fc.record(Object.fromEntries(Object.entries(props).map(([k, s]) => [k, field(s)])), { requiredKeys: (schema.required ?? []).filter(() => true) });
  const dropped = fc.tuple(valid(schema), fc.constantFrom(...(schema.required?.length ? schema.required : ['_']))).map(([v, k]) => {
    const copy = { ...(v as Record<string, unknown>) };
    delete copy[k];
    return copy;
  });
  return fc.oneof({ weight: 4, arbitrary: valid(schema) }, { weight: 4, arbitrary: asObject }, { weight: 1, arbitrary: dropped }, { weight: 1, arbitrary: fc.constantFrom<unknown>(null, [], 'text', 42) });
}

function asQueryValue(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(asQueryValue);
  if (value === null || value === undefined) return [''];
  return [typeof value === 'object' ? JSON.stringify(value) : String(value)];
}

interface FuzzRequest {
  url: string;
  body: unknown;
}

describe.each(DIALECTS)('schema-driven fuzz pass over the OpenAPI document on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let doc: Parameters<typeof operationsOf>[0];
  let ops: Operation[];
  let adminToken: string;

  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0' } });
    w = await seedWorld(t);
    adminToken = w.adminToken;
    doc = (await t.request('GET', '/api/openapi.json')).body;
    ops = operationsOf(doc);
  });
  afterAll(() => t?.close());

  /** Real ids and paths of the seeded world, so generated requests reach past "not found" too. */
  function pathValue(name: string, schema: JsonSchema): fc.Arbitrary<string> {
    const known: string[] =
      name === 'id' && typesOf(schema).includes('string')
        ? [String(w.project.id), String(w.sub.id), 'acme/platform', 'acme/platform/web', String(w.top.id)]
        : ['1', '2', '3', String(w.users.developer.user.id), String(w.users.maintainer.user.id)];
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: field(schema).map((v) => asQueryValue(v)[0] ?? '') }).filter((v) => v !== '');
  }

  function requests(op: Operation): fc.Arbitrary<FuzzRequest> {
    const pathParams = op.parameters.filter((p) => p.in === 'path');
    const queryParams = op.parameters.filter((p) => p.in === 'query');
    const path = fc.tuple(...pathParams.map((p) => pathValue(p.name, p.schema))).map((values) => values.reduce((url, v, i) => url.replace(`{${pathParams[i]!.name}}`, encodeUrlValue(v)), op.path));
    const query = fc.record(Object.fromEntries(queryParams.map((p) => [p.name, field(p.schema)])), { requiredKeys: queryParams.filter((p) => p.required).map((p) => p.name) });
    const payload = op.body ? body(op.body) : fc.constant(undefined);
    return fc.tuple(path, query, payload).map(([p, q, b]) => {
      const search = Object.entries(q).flatMap(([k, v]) => asQueryValue(v).map((x) => `${encodeUrlValue(k)}=${encodeUrlValue(x)}`));
      return { url: search.length ? `${p}?${search.join('&')}` : p, body: b };
    });
  }

  /** The fuzz may revoke or rotate the admin's own token: mint another (through the service) when it stops working. */
  async function freshAdminToken(): Promise<void> {
    const { personalTokens } = t.app.services;
    adminToken = (await personalTokens.createFor(w.admin, { name: 'fuzz', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  }

  it('documents every operation well enough to fuzz: 4xx answers, bounded strings, plain booleans, no web pages', () => {
    expect(ops.length).toBeGreaterThan(60);
    for (const op of ops) {
      const where = `${op.method} ${op.path}`;
      expect(op.path, where).toMatch(/^\/(api\/v4|oauth|jwt|-)\//);
      for (const code of ['400', '401', '403', '404', '429']) expect(op.statuses, where).toContain(code);
      if (op.body) for (const code of ['413', '415']) expect(op.statuses, where).toContain(code);
      const strings: JsonSchema[] = [];
      const walk = (s: JsonSchema | undefined) => {
        if (!s) return;
        if (typesOf(s).includes('string')) strings.push(s);
        [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? []), ...Object.values(s.properties ?? {}), ...(s.items ? [s.items] : [])].forEach(walk);
      };
      op.parameters.forEach((p) => walk(p.schema));
      walk(op.body ?? undefined);
      for (const s of strings) expect(s.maxLength !== undefined || s.enum !== undefined, `${where}: ${JSON.stringify(s)}`).toBe(true);
      for (const p of op.parameters.filter((x) => x.in === 'query' && typesOf(x.schema).includes('boolean'))) expect(p.schema, `${where} ?${p.name}`).toMatchObject({ type: 'boolean' });
    }
  });

  it('answers every generated request to every operation with a declared status, never 5xx, GitLab-shaped on 4xx', async () => {
    const baseSeed = Number(process.env.FC_SEED ?? (dialect === 'sqlite' ? 20261203 : 3122026));
    const seen = new Map<string, number>();
    for (const [index, op] of ops.entries()) {
      const seed = baseSeed + index;
      let last = '';
      try {
        await fc.assert(
          fc.asyncProperty(requests(op), async ({ url, body: payload }) => {
            const headers: Record<string, string> = {};
            let res = await t.request(op.method, url, { token: adminToken, headers, ...(payload === undefined ? {} : { body: payload }) });
            if (res.status === 401 && url.includes('self') === false) {
              await freshAdminToken();
              res = await t.request(op.method, url, { token: adminToken, headers, ...(payload === undefined ? {} : { body: payload }) });
            }
            last = `${op.method} ${url.slice(0, 300)} ${JSON.stringify(payload)?.slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`;
            expect(res.status, last).toBeLessThan(500);
            expect(op.statuses, last).toContain(String(res.status));
            if (res.status >= 400) {
              const b = res.body as { error?: unknown; message?: unknown } | undefined;
              expect(typeof b === 'object' && b !== null && (typeof b.error === 'string' || b.message !== undefined), last).toBe(true);
            }
            if (res.status === 401) await freshAdminToken();
            seen.set(String(res.status), (seen.get(String(res.status)) ?? 0) + 1);
          }),
          { numRuns: RUNS, seed },
        );
      } catch (e) {
        throw new Error(`${op.method} ${op.path} failed with seed ${seed} (FC_SEED=${baseSeed}); last request: ${last}\n${(e as Error).message}\n${(e as Error).stack}`);
      }
    }
    console.log(`fuzzed ${ops.length} operations × ${RUNS} on ${dialect}: statuses ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    // Both sides were reached: successes and refusals.
    expect([...seen.keys()].some((s) => s.startsWith('2'))).toBe(true);
    expect([...seen.keys()].filter((s) => s.startsWith('4')).length).toBeGreaterThan(2);
  }, 600_000);
});
