import { request } from 'node:https';

import type { TlsContextSource } from './tls.js';

/** Bytes of a response body read before the request is abandoned (an attempt's log is capped well below this). */
export const httpsGetBodyBytesMax = 256 * 1024 * 1024;

/**
 * GET over HTTPS with this process's TLS material: the server's certificate
 * must chain to the CA bundle and name the host; this process's certificate,
 * if it has one, is presented. Resolves to a fetch Response, so callers treat
 * it like `fetch`'s; rejects on a connection, TLS or timeout error.
 */
export function httpsGet(url: string, tls: TlsContextSource, options: { timeoutMs: number; headers?: Readonly<Record<string, string>> }): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ...tls.secureContextOptions(), headers: { ...options.headers }, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > httpsGetBodyBytesMax) {
          req.destroy(new Error(`${url}: response larger than ${httpsGetBodyBytesMax} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500 })));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
