import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';

import { registerCoordinatorCommand } from '../../src/cli/coordinator-cmd.js';
import { registerWorkerCommand } from '../../src/cli/worker-cmd.js';

/** The repository root and its deploy/ folder. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const deployDir = join(repoRoot, 'deploy');

/** Folders under deploy/ that hold an operator's own material, never the repository's. */
const localFolders = new Set(['certs', 'workspace']);

/** Every file under deploy/ whose name ends in one of `extensions`, as paths relative to the repository. */
export function deployFiles(extensions: readonly string[], dir = deployDir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (dir === deployDir && localFolders.has(entry.name)) continue;
      out.push(...deployFiles(extensions, join(dir, entry.name)));
    } else if (extensions.some((ext) => entry.name.endsWith(ext))) {
      out.push(relative(repoRoot, join(dir, entry.name)));
    }
  }
  return out.sort();
}

/**
 * Parses YAML text as Docker Compose and Kubernetes read it: every document,
 * merge keys (`<<`) on, duplicate keys an error. Throws on any error or
 * warning, naming `what`.
 */
export function parseYaml(text: string, what: string): unknown[] {
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  const problems = docs.flatMap((d) => [...d.errors, ...d.warnings].map((e) => e.message));
  if (problems.length > 0) throw new Error(`${what}: ${problems.join('\n')}`);
  return docs.map((d) => d.toJS() as unknown).filter((v) => v !== null && v !== undefined);
}

/** The long flags (`--tls-cert`, …) the `testudo coordinator` and `testudo worker` commands accept. */
export function cliFlags(): { coordinator: Set<string>; worker: Set<string> } {
  const program = new Command();
  const quiet = { out: () => undefined, err: () => undefined };
  registerCoordinatorCommand(program, quiet);
  registerWorkerCommand(program, quiet);
  const flagsOf = (name: string): Set<string> => {
    const command = program.commands.find((c) => c.name() === name);
    if (command === undefined) throw new Error(`the CLI has no ${name} command`);
    return new Set(command.options.map((o) => o.long).filter((l): l is string => l !== undefined));
  };
  return { coordinator: flagsOf('coordinator'), worker: flagsOf('worker') };
}

/**
 * The long flags used in an argument list (`--id=n1` and `--id n1` both
 * give `--id`), skipping the subcommand and values.
 */
export function flagsIn(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
}

/** Flags in `args` that `known` lacks, each with where it was found. */
export function unknownFlags(args: readonly string[], known: ReadonlySet<string>, where: string): string[] {
  return flagsIn(args)
    .filter((f) => !known.has(f))
    .map((f) => `${where}: ${f}`);
}
