import { Command, CommanderError } from 'commander';
import { TlrError } from '../errors.js';
import { convertCommand } from './commands/convert.js';
import { renderCommand } from './commands/render.js';
import { validateCommand } from './commands/validate.js';
import { controllerCommand, webhookCommand } from './commands/serve.js';
import { fetchCommand } from './commands/fetch.js';
import { resultsCommand } from './commands/results.js';
import type { CliIo } from './io.js';
import { CommandRefused } from './report.js';

export const VERSION = '0.1.0';

/** Exit codes: 0 success, 1 input refused or invalid, 2 usage error. */
/** 130: interrupted (128 + SIGINT), as shells report it. */
export const EXIT = { ok: 0, refused: 1, usage: 2, interrupted: 130 } as const;

/** `name`: how the user invoked it (`tkn tlr` when tkn runs us as its plugin `tkn-tlr`), for usage lines. */
export function createProgram(io: CliIo, name = 'tlr'): Command {
  const program = new Command(name)
    .description(
      'Tekton Large Results: task results of any size for Tekton Pipelines.\n\n' +
        'Typical use:\n' +
        '  tlr convert task.yaml pipeline.yaml | kubectl apply -f -     store TEP-form files the way Tekton accepts\n' +
        '  tlr render pipelinerun.yaml pipeline.yaml task.yaml          see what the admission webhook will make of a run\n' +
        '  tlr validate --crds tekton/config/300-crds *.yaml            check files before committing them\n' +
        '  tlr results my-run                                           list a run\'s results: storage, size, sha256',
    )
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError();
  convertCommand(program, io);
  renderCommand(program, io);
  validateCommand(program, io);
  fetchCommand(program, io);
  resultsCommand(program, io);
  controllerCommand(program);
  webhookCommand(program);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  }
  return program;
}

/** Runs the CLI with `argv` (user arguments only) and returns the exit code; never calls process.exit. */
export async function runCli(argv: readonly string[], io: CliIo, name?: string): Promise<number> {
  const program = createProgram(io, name);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CommandRefused) {
      if (!error.silent) io.err(`${error.message}\n`);
      return EXIT.refused;
    }
    if (error instanceof TlrError) {
      io.err(`error: ${error.message}\n`);
      if (error.code === 'E_INTERRUPTED') return EXIT.interrupted;
      return error.code === 'E_INPUT' || error.code === 'E_CONFIG' || error.code === 'E_KUBECONFIG' ? EXIT.usage : EXIT.refused;
    }
    throw error;
  }
}
