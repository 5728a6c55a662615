#!/usr/bin/env node
/**
 * tlr-init: the program that runs inside Tekton pods (image entrypoint). Usage and exit codes: init/README.md.
 *   tlr-init prepare    --root <dir> --dir <run-dir>/<producer>
 *   tlr-init seal       --root <dir> --dir <run-dir>/<producer> --results-dir <dir> --max-size <bytes> <name>...
 *   tlr-init substitute --root <dir> --run-dir <run-dir> --scripts <dir> --max-substituted <bytes> [--refs <text>]
 */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));
