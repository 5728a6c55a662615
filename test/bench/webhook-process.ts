/**
 * The webhook server alone in a process, for benchmarks that measure it from outside (latency and peak RSS of the
 * server only): `node webhook-process.js <cert> <key>` prints `{"port": N}` once listening, stops on SIGTERM. Default
 * settings (tlr-config and feature-flags with no keys), default worker threads and deadline, as `tlr webhook` runs.
 */
import { pino } from 'pino';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { startWebhookServer } from '../../src/webhook/server.js';

const [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) throw new Error('usage: webhook-process.js <cert> <key>');
const server = await startWebhookServer({
  port: 0,
  host: '127.0.0.1',
  certFile,
  keyFile,
  settings: { config: () => parseConfig({}), featureFlags: () => parseFeatureFlags({}) },
  logger: pino({ level: 'silent' }),
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
