import type { IncomingMessage } from 'node:http';

/**
 * The `/chaos` endpoint that workers and coordinators serve when started with
 * `--chaos-hooks`: GET reads the fault settings, PUT replaces them (absent
 * fields take their defaults), DELETE puts the defaults back. Each process
 * describes its settings with a schema (a default and a check per field);
 * this module reads and validates bodies and shapes the replies, so both
 * processes answer alike. For chaos runs only: nothing here is on unless the
 * process was started with the flag.
 */

/** Largest /chaos request body read; settings take a few dozen bytes. */
export const chaosBodyBytesMax = 64 * 1024;

/** One numeric settings field. */
export interface ChaosField {
  readonly defaultValue: number;
  /** What a valid value looks like, for the 400 message: 'a number in [0, 1]'. */
  readonly expected: string;
  /** Only called with finite numbers. */
  readonly valid: (value: number) => boolean;
}

export type ChaosSchema<S> = { readonly [K in keyof S]: ChaosField };

/** What /chaos reads and replaces: the settings a process's chaos hooks act on. */
export interface ChaosControl<S> {
  readonly schema: ChaosSchema<S>;
  get(): S;
  /** Takes settings that passed `parseChaosSettings` against `schema`. */
  replace(settings: S): void;
}

/** A /chaos body that does not hold valid settings; the message says why (the 400 body). */
export class ChaosSettingsError extends Error {
  override readonly name = 'ChaosSettingsError';
}

/** The settings every field's default gives. */
export function chaosDefaults<S extends { readonly [K in keyof S]: number }>(schema: ChaosSchema<S>): S {
  const out: Record<string, number> = {};
  for (const [key, field] of Object.entries<ChaosField>(schema)) out[key] = field.defaultValue;
  return out as S;
}

/**
 * Parses a PUT body: a JSON object holding any of the schema's fields, each a
 * finite number its check accepts; absent fields take their defaults. Throws
 * `ChaosSettingsError` for anything else (not JSON, not an object, an
 * unknown key, a value out of range or of another type). -0 becomes 0.
 */
export function parseChaosSettings<S extends { readonly [K in keyof S]: number }>(text: string, schema: ChaosSchema<S>): S {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ChaosSettingsError(`the body is not JSON: ${(error as Error).message}`);
  }
  const names = Object.keys(schema);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChaosSettingsError(`the body must be a JSON object with any of ${names.join(', ')}`);
  }
  const out: Record<string, number> = chaosDefaults(schema);
  for (const [key, value] of Object.entries(body)) {
    if (!Object.hasOwn(schema, key)) throw new ChaosSettingsError(`unknown field ${JSON.stringify(key)}; expected any of ${names.join(', ')}`);
    const field = (schema as Readonly<Record<string, ChaosField>>)[key]!;
    if (typeof value !== 'number' || !Number.isFinite(value) || !field.valid(value)) {
      throw new ChaosSettingsError(`${key} must be ${field.expected}, got ${JSON.stringify(value)}`);
    }
    out[key] = value === 0 ? 0 : value;
  }
  return out as S;
}

/** A /chaos answer: always a JSON body. */
export interface ChaosReply {
  readonly status: number;
  /** JSON, newline-terminated. */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

const allowed = 'GET, HEAD, PUT, DELETE';

/**
 * Answers one /chaos request. `control` is null when the process runs
 * without `--chaos-hooks`: every method then gets 404, naming the flag.
 */
export async function chaosRequest<S extends { readonly [K in keyof S]: number }>(
  request: IncomingMessage,
  control: ChaosControl<S> | null,
  processKind: 'worker' | 'coordinator',
): Promise<ChaosReply> {
  if (control === null) return reply(404, { error: `chaos hooks are off; start the ${processKind} with --chaos-hooks` });
  switch (request.method) {
    case 'GET':
    case 'HEAD':
      return reply(200, control.get());
    case 'DELETE':
      control.replace(chaosDefaults(control.schema));
      return reply(200, control.get());
    case 'PUT': {
      const text = await readBody(request, chaosBodyBytesMax);
      // Unread bytes would be taken for the next request: close after answering.
      if (text === null) return reply(400, { error: `the body is over ${chaosBodyBytesMax} bytes` }, { Connection: 'close' });
      try {
        control.replace(parseChaosSettings(text, control.schema));
      } catch (error) {
        if (error instanceof ChaosSettingsError) return reply(400, { error: error.message });
        throw error;
      }
      return reply(200, control.get());
    }
    default:
      return reply(405, { error: `method ${request.method ?? ''} not allowed on /chaos; use ${allowed}` }, { Allow: allowed });
  }
}

function reply(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): ChaosReply {
  return { status, body: `${JSON.stringify(value)}\n`, headers };
}

/** The request body as UTF-8, or null once it passes `bytesMax` (the rest is drained, not kept). */
function readBody(request: IncomingMessage, bytesMax: number): Promise<string | null> {
  const declared = Number(request.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > bytesMax) {
    request.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      if (over) return;
      bytes += chunk.length;
      if (bytes > bytesMax) {
        over = true;
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.once('error', reject);
  });
}
