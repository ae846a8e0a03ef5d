import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/** One Server-Sent Events frame as read off the wire. */
export interface Frame {
  readonly id: string;
  readonly event: string;
  readonly data: string;
}

/**
 * A minimal SSE reader (the benchmark and the tests use it): opens `url` with the
 * given headers and collects frames as they arrive.
 */
export class SseClient {
  readonly frames: Frame[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  bytes = 0;
  private buffer = '';
  private req!: ClientRequest;
  readonly opened: Promise<void>;
  closed = false;

  constructor(url: string, headers: Record<string, string> = {}, onFrame?: (frame: Frame) => void) {
    this.opened = new Promise<void>((resolve, reject) => {
      this.req = request(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          this.bytes += Buffer.byteLength(chunk);
          this.buffer += chunk;
          let end: number;
          while ((end = this.buffer.indexOf('\n\n')) >= 0) {
            const block = this.buffer.slice(0, end);
            this.buffer = this.buffer.slice(end + 2);
            const frame = parseFrame(block);
            if (frame !== null) {
              this.frames.push(frame);
              onFrame?.(frame);
            }
          }
        });
        res.on('close', () => (this.closed = true));
        res.on('error', () => (this.closed = true));
        resolve();
      });
      this.req.on('error', (error) => {
        this.closed = true;
        reject(error);
      });
      this.req.end();
    });
  }

  /** Frames that carry data (not comments, not the retry line). */
  events(): Frame[] {
    return this.frames.filter((f) => f.data !== '');
  }

  close(): void {
    this.req.destroy();
  }
}

function parseFrame(block: string): Frame | null {
  let id = '';
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (id === '' && data.length === 0) return null;
  return { id, event, data: data.join('\n') };
}
