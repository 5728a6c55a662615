/**
 * The command line of tlr-init (one binary: prepare, seal, substitute; export and idle for tlr fetch), returning an exit code (see exit-codes.ts).
 * Kept apart from main.ts so tests can run it in-process.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MOUNT_PATH, ENV_REF_LABELS, ENV_REFS, ENV_RUN_DIR, ENV_SELECTORS, ENV_VIEW } from '../src/api/names.js';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from './exit-codes.js';
import { logInfo, logProblem } from './log.js';
import { prepareResultDirs } from './prepare.js';
import { checkSegment, splitProducerDir } from './safe-path.js';
import { sealResults } from './seal.js';
import { classicResultBytes, type CopyRoom } from './seal-copy.js';
import { installExecHelper } from './install-exec.js';
import { substituteScripts } from './substitute.js';
import { writeTerminationLog } from './termination-log.js';
import { openVerifiedResult } from './verified-result.js';
import { type View, VIEWS } from './volume-view.js';
import { parseReference } from '../src/core/reference.js';
import { parseShapes, type ResultShape } from '../src/core/structured.js';

/** Runs tlr-init with `args` (without node and the script path); resolves to the exit code. */
export async function runCli(args: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  let usageError = '';
  const program = buildProgram(
    (c) => (code = c),
    (message) => (usageError = message.trim()),
  );
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) {
      logProblem(`tlr-init: unexpected error: ${(error as Error).stack ?? String(error)}`);
      return EXIT_REFUSED;
    }
    if (error.exitCode === 0) return EXIT_OK;
    // The init container (substitute) reports to the termination log; steps (prepare, seal) must not.
    if (args[0] === 'substitute') await writeTerminationLog(`tlr-init substitute: ${usageError}`);
    return EXIT_USAGE;
  }
  return code;
}

/** Subcommands inherit the settings made here (exit override, error output) when they are added. */
function buildProgram(setCode: (code: number) => void, onUsageError: (message: string) => void): Command {
  const program = new Command('tlr-init')
    .description('Runs in Tekton pods: prepares, seals and substitutes large results stored on the result volume.')
    .exitOverride()
    .configureOutput({
      outputError: (message, write) => {
        onUsageError(message);
        write(message);
      },
    })
    .showHelpAfterError();
  const root = (): Option => new Option('--root <dir>', 'mount path of the result volume').default(DEFAULT_MOUNT_PATH);
  const dir = (): Option =>
    new Option('--dir <run-dir/producer>', "this producer's directory on the volume").argParser(usage(splitDir));
  const view = (): Option =>
    new Option('--view <view>', "what is mounted at --root: the volume's root, or the run's directory")
      .choices(VIEWS)
      .default('volume');

  program
    .command('prepare')
    .description("create this run's and this producer's directories on the result volume")
    .addOption(root())
    .addOption(view())
    .addOption(dir().makeOptionMandatory())
    .action(async (opts: { root: string; dir: string; view: View }) => setCode(await prepare(opts)));

  program
    .command('seal')
    .description('check, hash and seal result files; write each reference into the results directory')
    .addOption(root())
    .addOption(view())
    .addOption(dir().makeOptionMandatory())
    .addOption(new Option('--results-dir <dir>', "Tekton's results directory").default('/tekton/results'))
    .addOption(
      new Option('--max-size <bytes>', 'largest accepted result (config key maxResultSize)')
        .argParser(usage(parseBytes))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--shapes <json>', 'results declared object or array, with their properties: their JSON is checked')
        .argParser(usage(parseShapes)),
    )
    .addOption(
      new Option('--copies <names>', 'results also published verbatim as the classic result tlr-copy-<name>, comma-separated')
        .argParser(usage((v: string) => v.split(',').map((n) => checkSegment(n, '--copies result name')))),
    )
    .addOption(
      new Option('--escaped-copies <names>', 'results also published with every $ doubled as tlr-ecopy-<name> (for the kubelet), comma-separated')
        .argParser(usage((v: string) => v.split(',').map((n) => checkSegment(n, '--escaped-copies result name')))),
    )
    .addOption(
      new Option('--max-copy <bytes>', 'largest copy, as Tekton encodes it (config key maxCopySize)').argParser(usage(parseBytes)),
    )
    .addOption(
      new Option('--copy-room <bytes>', "what all copies may take of this step's termination message, as Tekton encodes them").argParser(usage(parseBytes)),
    )
    .argument('<result-name...>', 'the reference results of this task', usage(collectNames))
    .action(async (names: string[], opts: SealFlags) =>
      setCode(await seal(names, opts)),
    );

  program
    .command('substitute')
    .description('verify referenced result files and substitute them into the step scripts')
    .addOption(root())
    .addOption(
      new Option('--run-dir <name>', "this PipelineRun's directory on the volume")
        .env(ENV_RUN_DIR)
        .argParser(usage((v: string) => checkSegment(v, '--run-dir')))
        .makeOptionMandatory(),
    )
    .addOption(view().env(ENV_VIEW))
    .addOption(new Option('--scripts <dir>', "Tekton's scripts directory").default('/tekton/scripts'))
    .addOption(new Option('--refs <text>', 'the references this task uses: the only ones substituted, each verified').env(ENV_REFS))
    .addOption(new Option('--ref-labels <labels>', 'the <task>/<result> label of each of --refs, in order').env(ENV_REF_LABELS))
    .addOption(new Option('--selectors <items>', 'the elements of structured results used: <task>/<result>.<key> or [<i>]').env(ENV_SELECTORS))
    .addOption(
      new Option('--max-substituted <bytes>', 'most bytes of values written into the scripts (config key maxSubstitutedSize)')
        .argParser(usage(parseBytes))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--install-exec <dir>', 'copy the exec helper (values into args, command and env) into this directory')
    )
    .action(async (opts: SubstituteFlags) => setCode(await substitute(opts)));

  program
    .command('export')
    .description('write the file a reference names to stdout, with every substitute check (used by tlr fetch)')
    .addOption(root())
    .argument('<reference>', 'the reference token [[tlr:v1:...]] as the producer recorded it')
    .action(async (token: string, opts: { root: string }) => setCode(await exportResult(token, opts.root)));

  program
    .command('idle')
    .description('wait (for tlr fetch to exec into this container) until terminated or the time is up')
    .addOption(new Option('--seconds <n>', 'longest wait').default(600).argParser(usage(parseSeconds)))
    .action(async (opts: { seconds: number }) => setCode(await idle(opts.seconds)));
  return program;
}

/**
 * Streams a referenced file to stdout, verified on the way (the receiver verifies again: size and sha256). Every
 * problem is one line on stderr, never a stack trace: tlr fetch shows it to its user as it is.
 */
async function exportResult(token: string, root: string): Promise<number> {
  let reference: ReturnType<typeof parseReference>;
  try {
    reference = parseReference(token.trim());
  } catch (error) {
    logProblem(`tlr-init export: refusing the reference "${token.slice(0, 200)}": ${(error as Error).message}`);
    return EXIT_REFUSED;
  }
  if (!reference) {
    logProblem(`tlr-init export: expected a reference [[tlr:v1:sha256=<hex>:size=<n>:path=<run>/<task>/<result>]], found "${token.slice(0, 200)}"`);
    return EXIT_USAGE;
  }
  try {
    const runDir = checkSegment(reference.path.split('/')[0] ?? '', 'reference path');
    for await (const chunk of await openVerifiedResult(reference, { root, runDir })) {
      // The chunk's buffer is reused after this: wait until it is handed over.
      await new Promise<void>((resolve, reject) => process.stdout.write(chunk, (error) => (error ? reject(error) : resolve())));
    }
    return EXIT_OK;
  } catch (error) {
    logProblem((error as Error).message);
    return EXIT_REFUSED;
  }
}

function idle(seconds: number): Promise<number> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve(EXIT_OK);
    };
    const timer = setTimeout(done, seconds * 1000);
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
    logInfo('Waiting for tlr fetch', { seconds });
  });
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--seconds: expected a whole number of seconds, found "${value}"`);
  return Number(value);
}

async function prepare(opts: { root: string; dir: string; view: View }): Promise<number> {
  try {
    const dirs = await prepareResultDirs(opts.root, opts.dir, opts.view);
    logInfo('Prepared result directory', { runDir: dirs.runDirPath, producerDir: dirs.producerDirPath });
    if (dirs.removed.length > 0) logInfo('Removed results of an earlier attempt', { producerDir: dirs.producerDirPath, removed: dirs.removed.join(', ') });
    return EXIT_OK;
  } catch (error) {
    logProblem((error as Error).message);
    return EXIT_REFUSED;
  }
}

interface SealFlags {
  root: string;
  dir: string;
  view: View;
  resultsDir: string;
  maxSize: number;
  shapes?: Map<string, ResultShape>;
  copies?: string[];
  escapedCopies?: string[];
  maxCopy?: number;
  copyRoom?: number;
}

/**
 * The room the copies have (--copy-room), less what the classic results earlier steps wrote take: they share the seal
 * step's termination message.
 */
async function copyRoomOf(copyRoom: number | undefined, resultsDir: string, names: readonly string[]): Promise<{ room?: CopyRoom }> {
  if (copyRoom === undefined) return {};
  const classic = await classicResultBytes(resultsDir, names);
  return { room: { left: Math.max(0, copyRoom - classic.bytes), total: copyRoom, classic } };
}

async function seal(names: string[], flags: SealFlags): Promise<number> {
  const { copies, escapedCopies, maxCopy, copyRoom, ...opts } = flags;
  const asked = [...(copies ?? []), ...(escapedCopies ?? [])];
  if (asked.length > 0 && maxCopy === undefined) {
    logProblem('tlr-init seal: --copies and --escaped-copies need --max-copy <bytes> (config key maxCopySize)');
    return EXIT_USAGE;
  }
  const unknown = asked.filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    logProblem(`tlr-init seal: --copies/--escaped-copies name ${unknown.map((n) => `"${n}"`).join(', ')}, which are not among the results to seal (${names.join(', ')})`);
    return EXIT_USAGE;
  }
  const outcomes = await sealResults(names, {
    ...opts,
    ...(asked.length > 0 && maxCopy !== undefined
      ? { copies: { names: new Set(copies), escaped: new Set(escapedCopies), maxSize: maxCopy, ...(await copyRoomOf(copyRoom, opts.resultsDir, names)) } }
      : {}),
  });
  for (const outcome of outcomes) if (outcome.status === 'missing') logProblem(outcome.message);
  const failed = outcomes.flatMap((o) => (o.status === 'failed' ? [o.message] : []));
  if (failed.length === 0) return EXIT_OK;
  const list = failed.map((m) => `- ${m}`).join('\n');
  logProblem(`Sealing failed for ${failed.length} of ${names.length} results:\n${list}`);
  return EXIT_REFUSED;
}

interface SubstituteFlags {
  root: string;
  runDir: string;
  view: View;
  scripts: string;
  refs?: string;
  refLabels?: string;
  selectors?: string;
  maxSubstituted: number;
  installExec?: string;
}

async function substitute(opts: SubstituteFlags): Promise<number> {
  try {
    await substituteScripts({ root: opts.root, runDir: opts.runDir, view: opts.view, scriptsDir: opts.scripts, refs: opts.refs, refLabels: opts.refLabels, selectors: opts.selectors, maxSubstituted: opts.maxSubstituted });
    if (opts.installExec !== undefined) await installExecHelper(opts.installExec);
    return EXIT_OK;
  } catch (error) {
    const message = (error as Error).message;
    logProblem(message);
    await writeTerminationLog(message);
    return EXIT_REFUSED;
  }
}

/** Wraps a validator so that its error becomes commander's "invalid argument" (a usage error, exit code 2). */
function usage<T>(parse: (value: string, previous: T) => T): (value: string, previous: T) => T {
  return (value, previous) => {
    try {
      return parse(value, previous);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

function splitDir(value: string): string {
  splitProducerDir(value);
  return value;
}

function collectNames(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), checkSegment(value, 'result name')];
}

function parseBytes(value: string): number {
  const bytes = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(bytes)) {
    throw new Error(`expected a number of bytes (digits only), got "${value}"`);
  }
  return bytes;
}
