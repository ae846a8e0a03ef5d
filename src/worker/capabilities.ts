// What a worker registers: labels (detected os/arch/node plus the operator's),
// CPUs, memory, and which tools are on its PATH.

import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Capabilities } from '../model/types.js';
import { labelKeyPattern, labelValueCharsMax } from './limits.js';

/** Tools always looked for (a spec's requirements usually name some of these). */
export const defaultTools: readonly string[] = [
  'node',
  'npm',
  'npx',
  'git',
  'python3',
  'java',
  'go',
  'docker',
  'chromium',
  'google-chrome',
  'firefox',
  'bash',
  'sh',
  'make',
];

/**
 * Label keys the worker sets from what it detects, with the value detected
 * here. An operator label may not set them: a worker that said `os=windows`
 * on Linux would be sent tasks that cannot run there.
 */
export function detectedLabels(): Record<string, string> {
  return { os: process.platform, arch: process.arch, node: process.versions.node };
}

/**
 * Keys naming the measured capabilities. As labels they would read like a
 * measurement (`cpus=64`) that the scheduler does not use: refused too.
 */
export const capabilityLabelKeys: readonly string[] = ['cpus', 'memory', 'memorymb', 'tools'];

/** Every key `--labels` refuses. */
export const reservedLabelKeys: readonly string[] = [...Object.keys(detectedLabels()), ...capabilityLabelKeys];

export interface DetectOptions {
  /** Operator labels; a reserved key ({@link reservedLabelKeys}) is a LabelError. */
  readonly labels: Readonly<Record<string, string>>;
  /** Further tools to look for on PATH. */
  readonly tools?: readonly string[];
  /** Default process.env.PATH. */
  readonly path?: string;
}

export class LabelError extends Error {
  override readonly name = 'LabelError';
}

/** Detects this machine's capabilities. Throws {@link LabelError} for an invalid label. */
export function detectCapabilities(options: DetectOptions): Capabilities {
  for (const [key, value] of Object.entries(options.labels)) checkLabel(key, value);
  const labels: Record<string, string> = { ...options.labels, ...detectedLabels() };
  const wanted = new Set([...defaultTools, ...(options.tools ?? [])]);
  const searchPath = options.path ?? process.env['PATH'] ?? '';
  const tools = [...wanted].filter((tool) => onPath(tool, searchPath)).sort();
  return {
    labels: sortedRecord(labels),
    cpus: os.availableParallelism(),
    memoryMb: memoryMb(),
    tools,
  };
}

/**
 * Parses `key=value,key=value` (whitespace around pairs ignored, empty input →
 * no labels). Throws {@link LabelError} naming the bad pair.
 */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const [index, rawPair] of text.split(',').entries()) {
    const pair = rawPair.trim();
    const where = `label ${index + 1} (${JSON.stringify(pair.slice(0, 80))})`;
    if (pair === '') throw new LabelError(`${where} is empty: labels are key=value pairs separated by commas`);
    const eq = pair.indexOf('=');
    if (eq < 0) throw new LabelError(`${where} has no '=': labels are key=value pairs`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    checkLabel(key, value, where);
    if (Object.hasOwn(labels, key)) throw new LabelError(`${where} repeats the key ${JSON.stringify(key)}`);
    labels[key] = value;
  }
  return labels;
}

function checkLabel(key: string, value: string, where = `label ${JSON.stringify(key.slice(0, 80))}`): void {
  if (!labelKeyPattern.test(key)) {
    throw new LabelError(`${where}: the key must be 1 to 63 characters of a-z, 0-9, '_', '.', '-', '/'`);
  }
  const detected = detectedLabels()[key];
  if (detected !== undefined) {
    throw new LabelError(`${where}: "${key}" is detected (${key}=${detected} on this machine) and cannot be set; leave it out (reserved keys: ${reservedLabelKeys.join(', ')})`);
  }
  if (capabilityLabelKeys.includes(key)) {
    throw new LabelError(`${where}: "${key}" names a measured capability (cpus, memoryMb and tools are detected and registered on their own), not a label; use another key (reserved keys: ${reservedLabelKeys.join(', ')})`);
  }
  if (value.length > labelValueCharsMax) {
    throw new LabelError(`${where}: the value is ${value.length} characters, over the limit of ${labelValueCharsMax}`);
  }
  if ([...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
    throw new LabelError(`${where}: the value must not contain control characters`);
  }
}

/** Whether `tool` is an executable regular file in one of the PATH directories. */
export function onPath(tool: string, searchPath: string): boolean {
  if (tool === '' || tool.includes('/') || tool === '.' || tool === '..') return false;
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const file = path.join(dir, tool);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, fsConstants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Total memory in MiB, lowered to the cgroup (v2) limit when one is set. */
function memoryMb(): number {
  let bytes = os.totalmem();
  try {
    const limit = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (/^\d+$/.test(limit)) bytes = Math.min(bytes, Number(limit));
  } catch {
    // no cgroup v2 limit
  }
  return Math.floor(bytes / (1024 * 1024));
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
