/**
 * JSON bodies: nesting bounded before parsing, prototype keys dropped however they are spelled.
 * @see issue 12 item 2
 */
import { describe, expect, it } from 'vitest';
import { BodyRefusedError } from './body-refused.js';
import { InvalidJsonError, MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';

describe('parseJsonBody', () => {
  it('parses bodies and treats an empty one as none', () => {
    expect(parseJsonBody('{"name":"x","scopes":["api"]}')).toEqual({ name: 'x', scopes: ['api'] });
    expect(parseJsonBody('  ')).toBeUndefined();
    expect(() => parseJsonBody('{"name":')).toThrow(InvalidJsonError);
  });

  it('refuses nesting deeper than the limit before parsing, counting no brackets inside strings', () => {
    const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(parseJsonBody(nested(MAX_JSON_DEPTH))).toBeDefined();
    expect(() => parseJsonBody(nested(MAX_JSON_DEPTH + 1))).toThrow(BodyRefusedError);
    expect(() => parseJsonBody('{"a":'.repeat(500_000))).toThrow(/nested deeper than 32 levels/);
    expect(parseJsonBody(JSON.stringify({ name: '[[[[{{{{'.repeat(100), quoted: '\\"[[[[' }))).toMatchObject({ quoted: '\\"[[[[' });
  });

  it('drops __proto__ and constructor at every level, also when escaped', () => {
    const parsed = parseJsonBody('{"a":{"__proto__":{"admin":true},"ok":1},"constructor":{"prototype":{}},"b":[{"\\u005f_proto__":{"x":1}}]}') as Record<string, any>;
    expect(parsed).toEqual({ a: { ok: 1 }, b: [{}] });
    expect(Object.hasOwn(parsed.b[0], '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('parses a 1 MB deeply bracketed body in a generous multiple of a flat one of the same size', () => {
    const time = (f: () => void) => {
      const start = performance.now();
      try {
        f();
      } catch {
        // refused: that is the point
      }
      return performance.now() - start;
    };
    const flat = JSON.stringify(Array.from({ length: 150_000 }, (_, i) => i % 10));
    const hostile = '['.repeat(flat.length);
    const baseline = Math.min(...[1, 2, 3].map(() => time(() => JSON.parse(flat))));
    const refused = Math.min(...[1, 2, 3].map(() => time(() => parseJsonBody(hostile))));
    expect(refused).toBeLessThan(Math.max(10 * baseline, 200));
  });
});
