#!/usr/bin/env node
/**
 * `npm run images [-- [--out DIR] [--list] [NAME...]]`: builds the project's images as OCI archives, without a
 * container engine (see docs/images.md). With no NAME, all of them; `--list` prints what would be built.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { buildImages } from './build.js';
import { recipes } from './recipes.js';

/** This file runs as dist/images/main.js, two levels below the project root. */
const PROJECT_DIR = fileURLToPath(new URL('../../', import.meta.url));

const program = new Command('images')
  .description('Build the project\'s container images as OCI archives (no container engine needed)')
  .option('-o, --out <dir>', 'where the archives go', process.env.TLR_IMAGES_DIR ?? resolve(PROJECT_DIR, 'dist/images'))
  .option('--list', 'list the images and exit')
  .argument('[names...]', 'images to build (default: all)')
  .action(async (names: string[], opts: { out: string; list?: boolean }) => {
    const version = (await import(resolve(PROJECT_DIR, 'package.json'), { with: { type: 'json' } }) as { default: { version: string } }).default.version;
    const all = recipes(version);
    if (opts.list) {
      for (const r of all) process.stdout.write(`${r.name.padEnd(26)} ${r.ref.padEnd(52)} ${r.group.padEnd(9)} ${r.description}\n`);
      return;
    }
    const unknown = names.filter((n) => !all.some((r) => r.name === n));
    if (unknown.length > 0) {
      program.error(`unknown image ${unknown.join(', ')}; the images are: ${all.map((r) => r.name).join(', ')}`, { exitCode: 2 });
    }
    const selected = names.length > 0 ? all.filter((r) => names.includes(r.name)) : all;
    const started = Date.now();
    process.stdout.write(`building ${selected.length} images into ${opts.out}\n`);
    await buildImages(selected, { projectDir: PROJECT_DIR, outDir: opts.out, log: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`built ${selected.length} images in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

try {
  await program.parseAsync();
} catch (error) {
  process.stderr.write(`images: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
