/**
 * The host side of the API server's path out of the namespace: a TCP listener on this machine's loopback
 * (127.0.0.1, a free port) that pipes each connection to the Unix socket ./socket-forward.ts serves inside the
 * namespace. Only loopback is used; no route joins the namespaces.
 */
import { connect, createServer, type AddressInfo, type Server } from 'node:net';

export interface LoopbackForward {
  readonly port: number;
  close(): Promise<void>;
}

export async function forwardLoopbackToSocket(socketPath: string, port = 0): Promise<LoopbackForward> {
  const open = new Set<{ destroy(): void }>();
  const server: Server = createServer((client) => {
    const upstream = connect(socketPath);
    open.add(client).add(upstream);
    client.once('close', () => open.delete(client));
    upstream.once('close', () => open.delete(upstream));
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of open) socket.destroy(); // watches would otherwise keep the server open
    }),
  };
}
