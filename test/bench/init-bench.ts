/**
 * Benchmark of tlr-init against the plain tools doing the same I/O: `substitute` of a script holding one reference
 * vs `cat file > out`, and `seal` vs `sha256sum file`. Same process, same disk, warm page cache for both; baseline
 * and subject alternate 3 times and the median counts. The data file is synced once before measuring, and each
 * output is deleted right after its run (before write-back), so the runs compare page-cache copies, not the disk's
 * mood. Also reports the peak RSS of the spawned tlr-init processes.
 *
 *   node dist/test/bench/init-bench.js [size-in-MiB] [dir]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const CLI = fileURLToPath(new URL('../../init/main.js', import.meta.url));
const TIME = '/usr/bin/time';
const OPENSSL = '/usr/bin/openssl';
const ROUNDS = Number(process.env.TLR_BENCH_ROUNDS ?? 3);
const RUN_DIR = 'run-bench';
const PRODUCER = 'producer';

interface Measured {
  seconds: number;
  /** Peak resident set size in KiB, when measured. */
  peakKiB?: number;
}

interface Layout {
  base: string;
  root: string;
  file: string;
  results: string;
  scripts: string;
}

/**
 * `beforeCli`: another build's dist/init/main.js (env TLR_BENCH_BEFORE_INIT in run.ts), whose substitute runs in the
 * same rounds: before and after side by side.
 */
export async function runInitBenchmarks(opts: { sizeBytes: number; dir: string; beforeCli?: string }): Promise<BenchResult[]> {
  await mkdir(opts.dir, { recursive: true });
  const layout = await makeLayout(await mkdtemp(join(opts.dir, 'init-bench-')), opts.sizeBytes);
  try {
    const rssMethod = existsSync(TIME) ? '/usr/bin/time -f %M' : 'polling /proc/<pid>/status VmHWM';
    await settle(); // the new file's write-back must not land in the measurements
    await run('/bin/cat', [layout.file], join(layout.base, 'warm')); // warm the page cache
    await rm(join(layout.base, 'warm'));
    const seal = ['seal', '--root', layout.root, '--dir', `${RUN_DIR}/${PRODUCER}`, '--results-dir', layout.results];
    const sealArgs = [CLI, ...seal, '--max-size', String(opts.sizeBytes), 'out'];
    await run(process.execPath, sealArgs); // the reference the substitute runs use
    const reference = await readFile(join(layout.results, 'out'), 'utf8');
    const script = join(layout.scripts, 'script-0-bench');
    const substitute = ['substitute', '--root', layout.root, '--run-dir', RUN_DIR, '--scripts', layout.scripts];
    // As the Pod webhook runs it: the task's declared references and the per-pod limit.
    const substituteArgs = [CLI, ...substitute, '--refs', reference, '--max-substituted', String(opts.sizeBytes)];

    const cat = { base: [] as Measured[], subject: [] as Measured[] };
    const openssl: Measured[] = [];
    const before: Measured[] = [];
    const hash = { base: [] as Measured[], subject: [] as Measured[] };
    const substituteRun = async (cli: string): Promise<Measured> => {
      await writeFile(script, `#!/bin/sh\ncat <<'EOF'\n${reference}\nEOF\n`, { mode: 0o755 });
      const measured = await run(process.execPath, [cli, ...substituteArgs.slice(1)]);
      await rm(script);
      return measured;
    };
    for (let round = 0; round < ROUNDS; round++) {
      cat.base.push(await run('/bin/cat', [layout.file], join(layout.base, 'cat-out')));
      await rm(join(layout.base, 'cat-out'));
      cat.subject.push(await substituteRun(CLI));
      if (existsSync(OPENSSL)) openssl.push(await run(OPENSSL, ['dgst', '-sha256', layout.file]));
      if (opts.beforeCli !== undefined) before.push(await substituteRun(opts.beforeCli));
      hash.base.push(await run('/usr/bin/sha256sum', [layout.file]));
      hash.subject.push(await run(process.execPath, sealArgs));
    }
    return [
      ...report('substitute', 'cat > out', cat, opts.sizeBytes, rssMethod),
      ...againstSlower(cat, openssl, before, opts.sizeBytes),
      ...report('seal', 'sha256sum', hash, opts.sizeBytes, rssMethod),
    ];
  } finally {
    await rm(layout.base, { recursive: true, force: true });
  }
}

async function makeLayout(base: string, sizeBytes: number): Promise<Layout> {
  const root = join(base, 'volume');
  const layout = {
    base,
    root,
    file: join(root, RUN_DIR, PRODUCER, 'out'),
    results: join(base, 'results'),
    scripts: join(base, 'scripts'),
  };
  await mkdir(join(root, RUN_DIR, PRODUCER), { recursive: true });
  await mkdir(layout.results);
  await mkdir(layout.scripts);
  const block = randomBytes(1 << 20);
  const handle = await open(layout.file, 'w');
  try {
    for (let written = 0; written < sizeBytes; written += block.length) {
      await handle.write(block, 0, Math.min(block.length, sizeBytes - written));
    }
  } finally {
    await handle.close();
  }
  return layout;
}

function report(
  subject: string,
  baseline: string,
  runs: { base: Measured[]; subject: Measured[] },
  sizeBytes: number,
  rssMethod: string,
): BenchResult[] {
  const mbps = (measured: Measured[]): number => round(sizeBytes / 1e6 / median(measured.map((m) => m.seconds)));
  const subjectMbps = mbps(runs.subject);
  const baseMbps = mbps(runs.base);
  const peaks = runs.subject.flatMap((m) => (m.peakKiB === undefined ? [] : [m.peakKiB]));
  const sizeNote = `${round(sizeBytes / 2 ** 20)} MiB file, warm cache, median of ${ROUNDS} alternating runs`;
  const ratioNote = `${subject} / (${baseline})`;
  const results: BenchResult[] = [
    { name: `init.${subject}.throughput`, value: subjectMbps, unit: 'MB/s', note: `${sizeNote}; ${times(runs.subject)}` },
    {
      name: `init.${subject}.baseline-throughput`,
      value: baseMbps,
      unit: 'MB/s',
      note: `${baseline}; ${sizeNote}; ${times(runs.base)}`,
    },
    { name: `init.${subject}.ratio`, value: round(subjectMbps / baseMbps), unit: 'x', note: ratioNote },
  ];
  if (peaks.length > 0) {
    const note = `max over ${peaks.length} runs, measured with ${rssMethod}`;
    results.push({ name: `init.${subject}.peak-rss`, value: round(Math.max(...peaks) / 1024), unit: 'MiB', note });
  }
  return results;
}

/**
 * substitute both copies and hashes: its floor is the slower of `cat` (the copy) and `openssl dgst -sha256` (the
 * hash) of the same file. The ratio is substitute's throughput over that floor's (1 = as fast as the slower tool).
 */
function againstSlower(cat: { base: Measured[]; subject: Measured[] }, openssl: Measured[], before: Measured[], sizeBytes: number): BenchResult[] {
  if (openssl.length === 0) return [];
  const mbps = (measured: Measured[]): number => round(sizeBytes / 1e6 / median(measured.map((m) => m.seconds)));
  const floor = Math.min(mbps(cat.base), mbps(openssl));
  const results: BenchResult[] = [
    { name: 'init.substitute.openssl-throughput', value: mbps(openssl), unit: 'MB/s', note: `openssl dgst -sha256; ${times(openssl)}` },
    { name: 'init.substitute.ratio-to-slower', value: round(mbps(cat.subject) / floor), unit: 'x', note: 'substitute / min(cat, openssl dgst -sha256)' },
  ];
  if (before.length > 0) {
    results.push(
      { name: 'init.substitute.before-throughput', value: mbps(before), unit: 'MB/s', note: `the other build's substitute, same rounds; ${times(before)}` },
      { name: 'init.substitute.before-ratio-to-slower', value: round(mbps(before) / floor), unit: 'x', note: 'before / min(cat, openssl dgst -sha256)' },
    );
  }
  return results;
}

/** Spawns a command (stdout to `stdoutFile` or discarded) and measures wall time and peak RSS. */
async function run(command: string, args: string[], stdoutFile?: string): Promise<Measured> {
  const out = stdoutFile === undefined ? 'ignore' : openSync(stdoutFile, 'w');
  const useTime = existsSync(TIME);
  const rssFile = join(tmpdir(), `tlr-bench-rss-${process.pid}-${randomBytes(4).toString('hex')}`);
  const [cmd, argv] = useTime ? [TIME, ['-f', '%M', '-o', rssFile, command, ...args]] : [command, args];
  const started = process.hrtime.bigint();
  const child = spawn(cmd, argv, { stdio: ['ignore', out, 'inherit'] });
  let polledKiB: number | undefined;
  const poll = useTime ? undefined : setInterval(() => (polledKiB = readVmHwm(child.pid) ?? polledKiB), 5);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (poll) clearInterval(poll);
  if (typeof out === 'number') closeSync(out);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`);
  const peakKiB = useTime ? Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop()) : polledKiB;
  if (useTime) await rm(rssFile, { force: true });
  return { seconds, peakKiB };
}

/** Flushes dirty pages (untimed), so their write-back does not land in a measurement. */
async function settle(): Promise<void> {
  if (!existsSync('/bin/sync')) return;
  await new Promise((resolve) => spawn('/bin/sync', { stdio: 'ignore' }).on('close', resolve).on('error', resolve));
}

function readVmHwm(pid: number | undefined): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function times(measured: Measured[]): string {
  return `runs ${measured.map((m) => m.seconds.toFixed(2)).join(', ')} s`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizeMiB = Number(process.argv[2] ?? '64');
  const dir = process.argv[3] ?? join(tmpdir(), 'tlr-bench');
  for (const result of await runInitBenchmarks({ sizeBytes: sizeMiB * 2 ** 20, dir })) {
    console.log(JSON.stringify(result));
  }
}
