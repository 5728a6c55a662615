// config/300-config.yaml documents every key in its `_example` block (Tekton's convention): the block must list
// exactly the keys the code knows, each with its default, and parse as a valid configuration.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS, parseConfig } from '../../src/core/config.js';

test('the shipped ConfigMap documents every key with its default; only initImage is active, at its default', (t) => {
  const configMap = parse(readFileSync('config/300-config.yaml', 'utf8')) as { data: Record<string, string> };
  t.deepEqual(Object.keys(configMap.data), ['_example', 'initImage'], 'only initImage is active (for kustomize images:)');
  t.is(configMap.data.initImage, CONFIG_DEFAULTS.initImage, 'and it is its default');
  const example = parse(configMap.data._example ?? '') as Record<string, unknown>;
  t.deepEqual(Object.keys(example).sort(), Object.keys(CONFIG_DEFAULTS).sort());
  for (const [key, value] of Object.entries(example)) t.is(String(value), CONFIG_DEFAULTS[key as keyof typeof CONFIG_DEFAULTS], key);
  t.notThrows(() => parseConfig(Object.fromEntries(Object.entries(example).map(([k, v]) => [k, String(v)]))));
});
