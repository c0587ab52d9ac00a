/**
 * A query built and compiled once, then run with new parameter values: for the hot look-ups (the
 * verifier's cache miss, a package download), where building and compiling the query with Kysely cost
 * as much as the database's own work. `build` is called once with `sentinels` — distinct values that
 * stand for the arguments (never equal to a constant the query holds) — and each compiled parameter
 * equal to a sentinel takes that argument's place on every run; the others are the query's constants.
 */
import { createQueryId, type Compilable, type CompiledQuery, type Kysely } from 'kysely';

export function preparedQuery<A extends unknown[], R>(db: Kysely<any>, build: (...args: A) => Compilable<R>, sentinels: A): (...args: A) => Promise<R[]> {
  let compiled: CompiledQuery<R> | null = null;
  let slots: ({ arg: number } | { value: unknown })[] = [];
  return async (...args) => {
    if (compiled === null) {
      compiled = build(...sentinels).compile();
      slots = compiled.parameters.map((p) => {
        const arg = sentinels.indexOf(p);
        return arg >= 0 ? { arg } : { value: p };
      });
    }
    const parameters = slots.map((s) => ('arg' in s ? args[s.arg] : s.value));
    return (await db.executeQuery<R>({ ...compiled, parameters, queryId: createQueryId() })).rows;
  };
}
