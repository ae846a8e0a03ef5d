import net from 'node:net';

/** A TCP echo server on 127.0.0.1 (port 0) that tracks its sockets. */
export interface EchoServer {
  port: number;
  address: string;
  sockets: Set<net.Socket>;
  /** Bytes the echo server received, in total. */
  received(): number;
  close(): Promise<void>;
}

export async function startEcho(): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  let received = 0;
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received += d.length;
      s.write(d);
    });
    s.on('end', () => s.end());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    sockets,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client socket with everything it received and how it ended. */
export interface Probe {
  socket: net.Socket;
  data: Buffer[];
  bytes(): number;
  text(): string;
  /** Resolves when the socket closes: the error code if any (e.g. ECONNRESET). */
  closed: Promise<{ at: number; error: string | undefined }>;
  /** Resolves once `n` bytes have arrived (time in ms since the call), rejects on close/timeout. */
  waitBytes(n: number, timeoutMs?: number): Promise<number>;
}

export async function connect(listen: string): Promise<Probe> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = Number(listen.slice(i + 1));
  const socket = net.connect({ host, port });
  const data: Buffer[] = [];
  let error: string | undefined;
  const listeners = new Set<() => void>();
  socket.on('data', (d: Buffer) => {
    data.push(d);
    for (const l of listeners) l();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
  });
  const closed = new Promise<{ at: number; error: string | undefined }>((resolve) => {
    socket.on('close', () => {
      for (const l of listeners) l();
      resolve({ at: Date.now(), error });
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const bytes = (): number => data.reduce((n, d) => n + d.length, 0);
  return {
    socket,
    data,
    bytes,
    text: () => Buffer.concat(data).toString('utf8'),
    closed,
    waitBytes(n: number, timeoutMs = 10_000): Promise<number> {
      const start = Date.now();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (bytes() >= n) {
            done();
            resolve(Date.now() - start);
          } else if (socket.destroyed) {
            done();
            reject(new Error(`socket closed after ${bytes()} of ${n} bytes`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out with ${bytes()} of ${n} bytes`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true (bounded). */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(10);
  }
  throw new Error('condition not met in time');
}
