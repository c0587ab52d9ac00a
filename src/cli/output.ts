/** CLI output: readable tables by default, `--json` for scripts. */
export type Row = Record<string, string | number | boolean | null | undefined | readonly string[]>;

function cell(v: Row[string]): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.join(',');
  return String(v);
}

export function formatTable(rows: readonly Row[], columns?: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]!);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

export interface Output {
  json: boolean;
  print(text: string): void;
  error(text: string): void;
}

export function emit(out: Output, data: unknown, table: () => string): void {
  out.print(out.json ? JSON.stringify(data, null, 2) : table());
}
