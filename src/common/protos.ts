import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding Testudo's .proto files. Code runs both from `src/`
 * (tsx, vitest) and from `dist/src/` (the built CLI), so walk up from this
 * module to the package root instead of assuming a depth.
 */
export function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'raft.proto')) && isTestudoRoot(dir)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`cannot find Testudo's proto/ directory above ${fileURLToPath(import.meta.url)}`);
}

export function protoPath(file: 'raft.proto' | 'testudo.proto'): string {
  return join(protoDir(), file);
}

function isTestudoRoot(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    return pkg.name === 'testudo';
  } catch {
    return false;
  }
}

/** Options for @grpc/proto-loader shared by every service Testudo loads. */
export const protoLoaderOptions = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
} as const;
