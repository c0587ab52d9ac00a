/**
 * `npm run bench`: what the quality bars name (README "Benchmarks", issue 13), measured side by side in
 * one run on this machine.
 *
 *   npm run bench                      both stores, 3 interleaved rounds of 10 s per case
 *   npm run bench -- --short           the same cases, 3 rounds of 2 s, 2,000 creates, the nothing-due scan only
 *   npm run bench -- --strict          exit 1 when a bar is missed
 *   npm run bench -- --stores sqlite   one store; --only <text>[|<text>…] runs the cases whose name contains one
 *   npm run bench -- --profile <text>  `latchkey serve` under --cpu-prof while a case named runs (bench/.data/profiles)
 *   npm run bench -- --serve-env K=V   one more setting for `latchkey serve` (repeatable), e.g. LATCHKEY_FAST_LANE=off
 *
 * Baseline: a bare node:http server answering 204 (bench/bare-server.mjs), in its own process. Against it,
 * `latchkey serve` as users run it (`node bin/latchkey.mjs serve`, rate limits off, logs at warn) on a
 * store seeded by bench/seed.ts with 1,000,000 tokens. Load: autocannon in this process, 64 connections;
 * each case runs bare, Latchkey, bare, Latchkey… (interleaved, so a noisy neighbour hurts both sides) with
 * the very same requests, and the ratio is of the medians. Lists are timed one request at a time; the
 * expiry scan is `latchkey notify run` as a process; the creates are 10,000 POSTs, 16 at a time.
 */
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { sql } from 'kysely';
import { join } from 'node:path';
import { openStore } from '../src/store/open-store.js';
import { addDays, utcDateOf } from '../src/kernel/dates.js';
import { load, median, type LoadResult, type RequestShape } from './load.js';
import { cpuMsOf, memoryOf, runLatchkeyTimed, startBare, startLatchkey, type Child } from './processes.js';
import { API_TOKENS, BENCH_SECRET, DATA_DIR, deployUsernameOf, ensureSeeded, GROUPS, PROJECTS_PER_GROUP, PROTOCOL_TOKENS, secretOf, type SeedInfo, type StoreKind } from './seed.js';
import { countDue, settleExpiryNotices } from './expiry-state.js';
import { prepareWebRender, WEB_RENDER_TOKENS } from './web-render.js';
import { markAudit, trimAudit } from './audit-trim.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
};

const SHORT = flag('short');
const STRICT = flag('strict');
const STORES = (option('stores') ?? 'sqlite,postgres').split(',') as StoreKind[];
const ONLY = option('only');
const PROFILE = option('profile');
const TOKENS = Number(option('tokens') ?? 1_000_000);
/** Settings added to serve's environment (`--serve-env K=V`, repeatable): to compare one setting's runs. */
const SERVE_ENV: Record<string, string> = {};
argv.forEach((arg, i) => {
  if (arg !== '--serve-env') return;
  const pair = argv[i + 1] ?? '';
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new Error(`--serve-env takes KEY=VALUE, not ${JSON.stringify(pair)}`);
  SERVE_ENV[pair.slice(0, eq)] = pair.slice(eq + 1);
});
const ROUNDS = 3;
const SECONDS = SHORT ? 2 : 10;
const CONNECTIONS = 64;
const CREATES = SHORT ? 2_000 : 10_000;

interface Row {
  store: StoreKind;
  name: string;
  /** What was measured, e.g. "12,345 req/s" or "4.2 ms". */
  result: string;
  bare: string;
  ratio: number | null;
  p99: number | null;
  /** The bare server's p99 under the same load (throughput cases): what the load generator alone adds. */
  bareP99?: number;
  bar: string;
  ok: boolean | null;
  /** Server CPU time per request in µs, Latchkey and bare (load-independent, unlike the rates). */
  /** µs per request: the whole serve process, its main thread alone (null off Linux), the bare server. */
  cpu?: { latchkey: number; main: number | null; bare: number };
  note?: string;
}

const rows: Row[] = [];
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const wanted = (name: string) => !ONLY || ONLY.split('|').some((part) => name.includes(part));
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface ThroughputCase {
  name: string;
  /** Requests in turn; the same for the bare server and Latchkey. */
  next: () => RequestShape;
  /** Minimum ratio to bare, and the p99 limit in ms; null = no bar (informational). */
  minRatio: number | null;
  maxP99: number | null;
}

/** Interleaved rounds: bare, Latchkey, bare, Latchkey…; ratio of the medians. */
async function measureThroughput(store: StoreKind, c: ThroughputCase, bare: Child, latchkey: Child): Promise<void> {
  // Warm-up on Latchkey (JIT, caches, connections) and a check that every answer is a success.
  const warm = await load(latchkey.url, { connections: CONNECTIONS, seconds: 1, next: c.next });
  if (warm.non2xx > 0 || warm.errors > 0) throw new Error(`${c.name}: ${warm.non2xx} non-2xx answers and ${warm.errors} errors in ${warm.total} requests during the warm-up (${JSON.stringify(warm.statuses)})`);
  const b: LoadResult[] = [];
  const l: LoadResult[] = [];
  // Server CPU per request: what a request costs whatever the neighbours take (the rates move with them).
  const cpu = { bare: { ms: 0, requests: 0 }, latchkey: { ms: 0, requests: 0 } };
  // Latchkey's main thread alone: the one that serves requests (the audit writer works in a worker thread).
  const mainThread = { ms: 0, requests: 0 };
  const timed = async (side: 'bare' | 'latchkey', child: Child) => {
    const before = cpuMsOf(child.pid);
    const mainBefore = cpuMsOf(child.pid, { mainThread: true });
    const r = await load(child.url, { connections: CONNECTIONS, seconds: SECONDS, next: c.next });
    const after = cpuMsOf(child.pid);
    const mainAfter = cpuMsOf(child.pid, { mainThread: true });
    if (before !== null && after !== null) {
      cpu[side].ms += after - before;
      cpu[side].requests += r.total;
    }
    if (side === 'latchkey' && mainBefore !== null && mainAfter !== null) {
      mainThread.ms += mainAfter - mainBefore;
      mainThread.requests += r.total;
    }
    return r;
  };
  for (let round = 0; round < ROUNDS; round++) {
    b.push(await timed('bare', bare));
    const r = await timed('latchkey', latchkey);
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${c.name}: ${r.non2xx} non-2xx answers and ${r.errors} errors in ${r.total} requests (${JSON.stringify(r.statuses)})`);
    l.push(r);
  }
  const perRequest = (x: { ms: number; requests: number }) => Math.round((x.ms * 1000) / Math.max(x.requests, 1));
  const bareRps = median(b.map((x) => x.rps));
  const rps = median(l.map((x) => x.rps));
  const p99 = median(l.map((x) => x.p99));
  const bareP99 = median(b.map((x) => x.p99));
  const ratio = rps / bareRps;
  const bar = [c.minRatio !== null ? `≥ ${c.minRatio}×` : null, c.maxP99 !== null ? `p99 < ${c.maxP99} ms` : null].filter(Boolean).join(', ') || '—';
  const ok = c.minRatio === null && c.maxP99 === null ? null : (c.minRatio === null || ratio >= c.minRatio) && (c.maxP99 === null || p99 < c.maxP99);
  const cpuUs = cpu.latchkey.requests > 0 ? { latchkey: perRequest(cpu.latchkey), main: mainThread.requests > 0 ? perRequest(mainThread) : null, bare: perRequest(cpu.bare) } : undefined;
  rows.push({ store, name: c.name, result: `${fmt(rps)} req/s`, bare: `${fmt(bareRps)} req/s`, ratio, p99, bareP99, bar, ok, cpu: cpuUs });
  log(`${store} ${c.name}: ${fmt(rps)} req/s vs bare ${fmt(bareRps)} (${ratio.toFixed(2)}×), p99 ${p99} ms (bare ${bareP99} ms)${cpuUs ? `; server CPU ${cpuUs.latchkey} µs/request vs bare ${cpuUs.bare} µs${cpuUs.main !== null ? ` (main thread ${cpuUs.main} µs)` : ''}` : ''}`);
}

/** One request at a time, `count` of them: a page's own time, without queueing. */
async function measureLatency(store: StoreKind, name: string, latchkey: Child, request: RequestShape, maxMs: number): Promise<void> {
  const check = await fetch(`${latchkey.url}${request.path}`, { headers: request.headers });
  if (check.status !== 200) throw new Error(`${name}: answered ${check.status}: ${(await check.text()).slice(0, 300)}`);
  await load(latchkey.url, { connections: 1, amount: 5, request });
  const r = await load(latchkey.url, { connections: 1, amount: SHORT ? 20 : 100, request });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers (${JSON.stringify(r.statuses)})`);
  rows.push({ store, name, result: `${r.p50} ms`, bare: '', ratio: null, p99: r.p99, bar: `< ${maxMs} ms`, ok: r.p50 < maxMs, note: 'median of one-at-a-time requests' });
  log(`${store} ${name}: median ${r.p50} ms, p99 ${r.p99} ms`);
}

async function benchStore(store: StoreKind, bare: Child): Promise<void> {
  const info = await ensureSeeded(store, TOKENS, flag('fresh'), log);
  if (store === 'postgres') {
    // As autovacuum would after the bench's own writes (and this machine's PostgreSQL may run without it).
    const st = await openStore({ kind: 'postgres', url: info.databaseUrl });
    try {
      await st.migrate();
      await sql`vacuum analyze tokens`.execute(st.db);
    } finally {
      await st.close();
    }
  }
  const env: Record<string, string> = {
    DATABASE_URL: info.databaseUrl,
    LATCHKEY_SECRET: BENCH_SECRET,
    LATCHKEY_DATA_DIR: join(DATA_DIR, `data-${store}`),
    LATCHKEY_LOG_LEVEL: 'warn',
    LATCHKEY_RATE_LIMIT_PER_MINUTE: '0',
    LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0',
    LATCHKEY_EXPIRY_CRON: 'off',
    ...SERVE_ENV,
  };
  const profileFlags = (name: string) => {
    if (!PROFILE || !name.includes(PROFILE)) return [];
    const dir = join(DATA_DIR, 'profiles', `${store}-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    mkdirSync(dir, { recursive: true });
    return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  };

  const root = secretOf(0);
  const asRoot = { 'private-token': root };
  const apiTokens = Array.from({ length: API_TOKENS.count }, (_, k) => secretOf(API_TOKENS.first + k));
  const protocol = { username: deployUsernameOf(PROTOCOL_TOKENS.first), secret: secretOf(PROTOCOL_TOKENS.first) };
  const repo = info.protocolProjectPath;
  const packagePath = `/api/v4/projects/${info.protocolProjectId}/packages/generic/bench/1.0.0/hello.txt`;

  let i = 0;
  const cases: ThroughputCase[] = [
    { name: 'GET /-/health (framework floor)', next: () => ({ path: '/-/health' }), minRatio: null, maxP99: null },
    { name: 'GET /api/v4/user, one token', next: () => ({ path: '/api/v4/user', headers: { 'private-token': apiTokens[0]! } }), minRatio: 0.8, maxP99: 5 },
    { name: 'GET /api/v4/user, 10k distinct tokens', next: () => ({ path: '/api/v4/user', headers: { 'private-token': apiTokens[i++ % apiTokens.length]! } }), minRatio: 0.5, maxP99: null },
    {
      name: '/jwt/auth, deploy token, pull',
      next: () => ({ path: `/jwt/auth?service=container_registry&scope=repository:${repo}:pull`, headers: { authorization: basic(protocol.username, protocol.secret) } }),
      minRatio: 0.8,
      maxP99: 5,
    },
    {
      name: 'git auth_request, deploy token, fetch',
      next: () => ({ path: '/api/v4/latchkey/git/auth', headers: { authorization: basic(protocol.username, protocol.secret), 'x-original-uri': `/${repo}.git/info/refs?service=git-upload-pack`, 'x-original-method': 'GET' } }),
      minRatio: 0.8,
      maxP99: 5,
    },
    { name: 'package download, deploy token', next: () => ({ path: packagePath, headers: { 'deploy-token': protocol.secret } }), minRatio: 0.8, maxP99: 5 },
  ];

  const pages: [string, string][] = [
    ['admin list, personal tokens, page 1', '/api/v4/personal_access_tokens?per_page=20&page=1'],
    ['admin list, personal tokens, page 1000', '/api/v4/personal_access_tokens?per_page=20&page=1000'],
    ['admin list, deploy tokens, page 1', '/api/v4/deploy_tokens?per_page=20&page=1'],
    ['admin list, deploy tokens, page 1000', '/api/v4/deploy_tokens?per_page=20&page=1000'],
    ['project list (100k tokens), page 1', `/api/v4/projects/${info.bigProjectId}/deploy_tokens?per_page=20&page=1`],
    ['project list (100k tokens), page 1000', `/api/v4/projects/${info.bigProjectId}/deploy_tokens?per_page=20&page=1000`],
  ];
  const createsName = `${CREATES.toLocaleString('en-US')} deploy-token creates, 16 parallel`;
  const webRenderName = `web UI: a project's deploy-token page (${WEB_RENDER_TOKENS.toLocaleString('en-US')} tokens), rendered`;

  const needsServer = cases.some((c) => wanted(c.name)) || pages.some(([name]) => wanted(name)) || wanted(createsName) || wanted(webRenderName);
  if (needsServer) {
    // --profile: serve runs under --cpu-prof when a case it runs is named (throughput, list, creates, web).
    const profiled = [...cases.map((c) => c.name), ...pages.map(([name]) => name), createsName, webRenderName].find((name) => PROFILE && wanted(name) && name.includes(PROFILE));
    const openBench = () => openStore(store === 'sqlite' ? { kind: 'sqlite', file: info.databaseUrl.slice('sqlite:'.length) } : { kind: 'postgres', url: info.databaseUrl });
    const marked = await openBench();
    const mark = await markAudit(marked).finally(() => marked.close());
    const latchkey = await startLatchkey(env, profiled ? profileFlags(profiled) : []);
    try {
      log(`${store}: latchkey serve pid ${latchkey.pid} at ${latchkey.url}`);
      // The package the download case fetches (uploaded once per store; a second PUT is a new version of the file).
      const put = await fetch(`${latchkey.url}${packagePath}`, { method: 'PUT', headers: asRoot, body: 'hello from the bench\n' });
      if (put.status !== 201) throw new Error(`package upload answered ${put.status}: ${await put.text()}`);

      for (const c of cases) if (wanted(c.name)) await measureThroughput(store, c, bare, latchkey);

      if (store === 'postgres' && pages.some(([name]) => wanted(name))) {
        // The load cases above wrote usage to thousands of token rows; the tokens table's autovacuum
        // settings (after 1 % of its rows change) would vacuum it within a minute on a live PostgreSQL, and
        // the lists' index-only scans rely on the visibility map it keeps. This machine's PostgreSQL may run
        // with autovacuum off, so the bench does it here (README "Results" says how the lists fare before).
        const st = await openStore({ kind: 'postgres', url: info.databaseUrl });
        try {
          await sql`vacuum tokens`.execute(st.db);
        } finally {
          await st.close();
        }
      }
      for (const [name, path] of pages) if (wanted(name)) await measureLatency(store, name, latchkey, { path, headers: asRoot }, 10);

      if (wanted(webRenderName)) await measureLatency(store, webRenderName, latchkey, await prepareWebRender(latchkey.url, info, asRoot), 50);

      if (wanted(createsName)) await measureCreates(store, createsName, info, latchkey, asRoot);

      const mem = memoryOf(latchkey.pid);
      if (mem) {
        rows.push({ store, name: 'RSS of latchkey serve after the runs (peak)', result: `${fmt(mem.rssMb)} MB (${fmt(mem.peakMb)} MB)`, bare: '', ratio: null, p99: null, bar: '< 300 MB', ok: mem.peakMb < 300 });
        log(`${store}: RSS ${fmt(mem.rssMb)} MB, peak ${fmt(mem.peakMb)} MB`);
      }
    } finally {
      await latchkey.stop();
      // The next run starts from the same store: this run's audit entries go (bench/audit-trim.ts).
      if (mark) {
        const st = await openBench();
        try {
          log(`${store}: audit log back to where it was before the run (${fmt(await trimAudit(st, mark))} entries of this run removed)`);
        } finally {
          await st.close();
        }
      }
    }
  }
  if (wanted('latchkey notify run')) await measureExpiryScan(store, info, env);
}

/** 10,000 deploy tokens (2,000 in --short) for as many projects through the API, 16 at a time; removed again afterwards. */
async function measureCreates(store: StoreKind, name: string, info: SeedInfo, latchkey: Child, asRoot: Record<string, string>): Promise<void> {
  const projects = GROUPS * PROJECTS_PER_GROUP;
  const firstProject = info.bigProjectId;
  const stamp = `bench-create-${Date.now()}`;
  let k = 0;
  const body = JSON.stringify({ name: stamp, scopes: ['read_registry'] });
  const r = await load(latchkey.url, {
    connections: 16,
    amount: CREATES,
    next: () => ({ method: 'POST', path: `/api/v4/projects/${firstProject + (k++ % projects)}/deploy_tokens`, headers: { ...asRoot, 'content-type': 'application/json' }, body }),
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers and ${r.errors} errors (${JSON.stringify(r.statuses)})`);
  const limit = 30 * (CREATES / 10_000);
  rows.push({ store, name, result: `${r.seconds.toFixed(1)} s`, bare: '', ratio: null, p99: r.p99, bar: `< ${limit} s`, ok: r.seconds < limit, note: SHORT ? 'short mode: the 30 s bar scaled to the count' : undefined });
  log(`${store} ${name}: ${r.seconds.toFixed(1)} s, p99 ${r.p99} ms`);
  // Back to a million: the bench's store stays the same from run to run.
  const st = await openStore(store === 'sqlite' ? { kind: 'sqlite', file: info.databaseUrl.slice('sqlite:'.length) } : { kind: 'postgres', url: info.databaseUrl });
  try {
    await st.db.deleteFrom('tokens').where('name', '=', stamp).execute();
  } finally {
    await st.close();
  }
}

/**
 * `latchkey notify run` over the million tokens, as a process (start-up included), mail disabled.
 * Full mode: the notices put into the state the daily job leaves, except one token in 20 of those in a
 * window, whose notice is due; a run decides them, then a second run has nothing due. Short mode: a
 * first run catches up with the day (its notices are settled directly if the store never was), then the
 * nothing-due run is measured.
 */
async function measureExpiryScan(store: StoreKind, info: SeedInfo, env: Record<string, string>): Promise<void> {
  const marker = join(DATA_DIR, `settled-${store}.json`);
  const openBench = () => openStore(store === 'sqlite' ? { kind: 'sqlite', file: info.databaseUrl.slice('sqlite:'.length) } : { kind: 'postgres', url: info.databaseUrl });
  const run = async () => {
    const r = await runLatchkeyTimed(['notify', 'run', '--json'], env);
    if (r.code !== 0) throw new Error(`notify run exited ${r.code}: ${r.stderr}`);
    const summary = JSON.parse(r.stdout) as { notices: Record<string, number> };
    return { ms: r.ms, decided: Object.values(summary.notices).reduce((a, b) => a + b, 0) };
  };
  // Settled for this seed within the last three days: the first run has at most a few days of notices to catch up on.
  const last = existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as { seededOn: string; settledOn: string }) : null;
  const settled = last !== null && last.seededOn === info.seededOn && last.settledOn >= addDays(utcDateOf(new Date()), -3);
  if (!SHORT || !settled) {
    const st = await openBench();
    try {
      const now = new Date();
      const dueEvery = SHORT ? 0 : 20;
      await settleExpiryNotices(st.db, now, dueEvery);
      log(`${store}: notices settled, ${await countDue(st.db, now, dueEvery)} due`);
      // As a live PostgreSQL's autovacuum would: the scan's index-only reads rely on the visibility map.
      if (store === 'postgres') await sql`vacuum analyze expiry_notices`.execute(st.db);
    } finally {
      await st.close();
    }
    writeFileSync(marker, JSON.stringify({ seededOn: info.seededOn, settledOn: utcDateOf(new Date()) }));
  }
  const first = await run();
  if (!SHORT) {
    rows.push({ store, name: `latchkey notify run, ${fmt(first.decided)} notices due`, result: `${(first.ms / 1000).toFixed(1)} s`, bare: '', ratio: null, p99: null, bar: 'proportional', ok: null, note: `${(first.ms / Math.max(first.decided, 1)).toFixed(2)} ms per notice, start-up included` });
    log(`${store} notify run with ${first.decided} due: ${(first.ms / 1000).toFixed(1)} s`);
  }
  const idle = await run();
  if (idle.decided !== 0) throw new Error(`notify run: a second run decided ${idle.decided} notices`);
  rows.push({ store, name: 'latchkey notify run, nothing due', result: `${(idle.ms / 1000).toFixed(1)} s`, bare: '', ratio: null, p99: null, bar: '< 10 s', ok: idle.ms < 10_000, note: 'process start-up included' });
  log(`${store} notify run, nothing due: ${(idle.ms / 1000).toFixed(1)} s`);
}

function printTable(): void {
  const lines = [
    '| store | case | Latchkey | bare node:http | ratio | p99 (bare) | server CPU µs/request: process, main thread (bare) | bar | |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.store} | ${r.name} | ${r.result} | ${r.bare} | ${r.ratio === null ? '' : `${r.ratio.toFixed(2)}×`} | ${r.p99 === null ? '' : `${r.p99} ms${r.bareP99 === undefined ? '' : ` (${r.bareP99})`}`} | ${r.cpu ? `${r.cpu.latchkey}, ${r.cpu.main ?? '?'} (${r.cpu.bare})` : ''} | ${r.bar} | ${r.ok === null ? '' : r.ok ? 'met' : '**missed**'}${r.note ? ` (${r.note})` : ''} |`),
  ];
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const startLoad = loadavg()[0]!.toFixed(1);
  const settings = Object.entries(SERVE_ENV).map(([k, v]) => `${k}=${v}`).join(' ');
  log(`${machine}; load average ${startLoad} at the start; ${SHORT ? 'short' : 'full'} mode; ${TOKENS.toLocaleString('en-US')} tokens${settings ? `; serve with ${settings}` : ''}`);
  const bare = await startBare();
  try {
    for (const store of STORES) await benchStore(store, bare);
  } finally {
    await bare.stop();
  }
  console.log(`\nLatchkey bench, ${utcDateOf(new Date())}: ${machine}; load average ${startLoad} at the start, ${loadavg()[0]!.toFixed(1)} at the end; ${SHORT ? 'short mode' : `${ROUNDS} interleaved rounds of ${SECONDS} s`}, ${CONNECTIONS} connections${settings ? `; serve with ${settings}` : ''}\n`);
  printTable();
  const missed = rows.filter((r) => r.ok === false);
  if (missed.length > 0) console.log(`\n${missed.length} bar(s) missed.`);
  if (STRICT && missed.length > 0) process.exitCode = 1;
}

await main();
