/**
 * Inventory as code: the YAML file `latchkey inventory import` reads and `export` writes
 * (docs/inventory-example.yaml's format), and the CSV export for spreadsheets. Pure: text in, entries
 * out. Every entry is read by parseCredentialInput, the API's validator; its field errors come back
 * with the file's path and line: `credentials[3].renewal.every_days (line 42)`.
 */
import { LineCounter, parseDocument, stringify, type Node } from 'yaml';
import { DomainError } from '../kernel/errors.js';
import { parseCredentialInput, PLACEMENT_FIELDS, type CredentialInput, type FieldErrors, type InventoryEntry } from './credential.js';
import { presentRenewalRule } from './credential-json.js';
import { tokenIdOfRef } from './token-entry.js';

export const INVENTORY_FILE_VERSION = 1;

/** One entry of a file, as an import applies it: every field given (absent optional ones cleared). */
export interface FileEntry {
  readonly index: number;
  readonly slug: string;
  readonly line: number;
  readonly input: CredentialInput;
}

/** `placements[1].key` → ['placements', 1, 'key']. */
function pathOf(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of field.split('.')) {
    const m = /^([^[]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    out.push(m[1]!);
    for (const i of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out;
}

function invalidFile(errors: FieldErrors): DomainError {
  const [field, reasons] = Object.entries(errors)[0]!;
  return new DomainError('invalid', 'INVALID_INVENTORY_FILE', `${field} ${reasons[0]}`, errors);
}

/**
 * Reads an inventory file. Throws one `invalid` error listing every problem, each field named with its
 * path in the file and the line it is on (for a missing field, the line of the entry that lacks it).
 */
export function parseInventoryFile(text: string): FileEntry[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineAt = (node: Node | null | undefined): number | null => (node?.range ? lines.linePos(node.range[0]).line : null);
  const errors: FieldErrors = {};
  const add = (field: string, reason: string, line: number | null) => (errors[field] ??= []).push(line === null ? reason : `${reason} (line ${line})`);
  if (doc.errors.length > 0) {
    for (const e of doc.errors) add('file', `is not valid YAML: ${e.message.split('\n')[0]}`, e.linePos?.[0]?.line ?? null);
    throw invalidFile(errors);
  }
  const root = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw invalidFile({ file: ['must be a mapping with version and credentials (line 1)'] });
  const data = root as Record<string, unknown>;
  for (const k of Object.keys(data)) if (k !== 'version' && k !== 'credentials') add(k, 'is not an inventory file field', lineAt(doc.getIn([k], true) as Node));
  if (data.version !== INVENTORY_FILE_VERSION) add('version', `must be ${INVENTORY_FILE_VERSION}`, lineAt(doc.getIn(['version'], true) as Node) ?? 1);
  const list = data.credentials ?? [];
  if (!Array.isArray(list)) {
    add('credentials', 'must be a list', lineAt(doc.getIn(['credentials'], true) as Node));
    throw invalidFile(errors);
  }
  const entries: FileEntry[] = [];
  const seen = new Map<string, number>();
  list.forEach((raw, index) => {
    const at = (path: (string | number)[]): number | null => {
      // The nearest node that exists on the path: a missing field is reported on its entry's line.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(['credentials', index, ...path.slice(0, n)], true) as Node | undefined;
        const line = lineAt(node);
        if (line !== null) return line;
      }
      return null;
    };
    const entryLine = at([]) ?? 1;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      add(`credentials[${index}]`, 'must be a mapping', entryLine);
      return;
    }
    const obj = raw as Record<string, unknown>;
    if (obj.value !== undefined) {
      add(`credentials[${index}].value`, 'is not allowed in a file: values of secrets never appear in it', at(['value']));
      return;
    }
    if (obj.slug === undefined || obj.slug === null) {
      add(`credentials[${index}].slug`, 'is missing (the stable key an import matches entries by)', entryLine);
      return;
    }
    try {
      // The file is the whole truth of an entry: what it leaves out is cleared. A Latchkey token's entry
      // (`slug: token-<id>`) needs only the fields it sets; the token's own are read from the token.
      const isToken = typeof obj.slug === 'string' && tokenIdOfRef(obj.slug) !== null;
      const cleared = isToken ? { purpose: null, procedure: null, placements: [] } : { provider: null, resource: null, role: null, purpose: null, procedure: null, scopes: [], placements: [] };
      const input = parseCredentialInput({ ...cleared, ...obj }, { partial: isToken });
      const slug = input.slug!;
      if (seen.has(slug)) add(`credentials[${index}].slug`, `(${slug}) is also the slug of credentials[${seen.get(slug)}]`, at(['slug']));
      else seen.set(slug, index);
      entries.push({ index, slug, line: entryLine, input });
    } catch (e) {
      if (!(e instanceof DomainError) || !e.fields) throw e;
      for (const [field, reasons] of Object.entries(e.fields)) for (const r of reasons) add(`credentials[${index}].${field}`, r, at(pathOf(field)));
    }
  });
  if (Object.keys(errors).length > 0) throw invalidFile(errors);
  return entries;
}

/** One entry as the file writes it: the import's fields, in the example's order, empty ones left out. */
export function fileEntryOf(c: InventoryEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { slug: c.slug, name: c.name, kind: c.kind };
  if (c.provider !== null) out.provider = c.provider;
  if (c.resource !== null) out.resource = c.resource;
  if (c.owner !== null) out.owner = c.owner.fullPath;
  if (c.scopes.length > 0) out.scopes = [...c.scopes];
  if (c.role !== null) out.role = c.role;
  if (c.purpose !== null) out.purpose = c.purpose;
  out.renewal = presentRenewalRule(c.renewal);
  if (c.procedure !== null) out.procedure = c.procedure;
  if (c.placements.length > 0) {
    out.placements = c.placements.map((p) => {
      const o: Record<string, string> = { kind: p.kind };
      for (const f of PLACEMENT_FIELDS[p.kind]) if (p[f] !== null) o[f] = p[f]!;
      return o;
    });
  }
  return out;
}

export function toInventoryYaml(credentials: readonly InventoryEntry[]): string {
  const body = stringify({ version: INVENTORY_FILE_VERSION, credentials: credentials.map(fileEntryOf) }, { lineWidth: 0, indentSeq: true });
  return `# Latchkey credential inventory (latchkey inventory export). Import with: latchkey inventory import <file>\n${body}`;
}

const CSV_COLUMNS = ['slug', 'name', 'kind', 'provider', 'resource', 'owner', 'scopes', 'role', 'purpose', 'expires_at', 'every_days', 'event', 'review_every_days', 'due_on', 'renewed_on', 'placements', 'procedure'] as const;

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. A leading =+-@ is defused for spreadsheets. */
function csvField(v: string | number | null): string {
  let s = v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toInventoryCsv(credentials: readonly InventoryEntry[], describe: (p: InventoryEntry['placements'][number]) => string): string {
  const rows = credentials.map((c) => {
    const r = c.renewal;
    const row: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
      slug: c.slug, name: c.name, kind: c.kind, provider: c.provider, resource: c.resource, owner: c.owner?.fullPath ?? null, scopes: c.scopes.join(' '), role: c.role, purpose: c.purpose,
      expires_at: r.type === 'expires_at' ? r.expiresAt : null, every_days: r.type === 'every_days' ? r.everyDays : null,
      event: r.type === 'event' ? r.event : null, review_every_days: r.type === 'event' ? r.reviewEveryDays : null,
      due_on: c.dueOn, renewed_on: c.renewedOn, placements: c.placements.map(describe).join('; '), procedure: c.procedure,
    };
    return CSV_COLUMNS.map((k) => csvField(row[k])).join(',');
  });
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}


