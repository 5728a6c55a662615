/**
 * Runs inside the cluster's network namespace: accepts connections on a Unix socket (a file, reachable from any
 * network namespace) and pipes each to a TCP address inside the namespace. With ./forward.ts on the host side, the
 * test process reaches the API server without any route between the namespaces.
 *
 *   node socket-forward.js <unix socket path> <host> <port>
 */
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const [path, host, port] = process.argv.slice(2);
if (!path || !host || !port) {
  process.stderr.write('usage: socket-forward <unix socket path> <host> <port>\n');
  process.exit(2);
}
rmSync(path, { force: true });
const server = createServer((client) => {
  const upstream = connect(Number(port), host);
  client.pipe(upstream).pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(path, () => process.stdout.write(`forwarding ${path} to ${host}:${port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.close(() => process.exit(0)));
