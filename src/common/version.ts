import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { protoDir } from './protos.js';

/** The version in Testudo's package.json (shown by --version and in member status). */
export const testudoVersion: string = (JSON.parse(readFileSync(join(dirname(protoDir()), 'package.json'), 'utf8')) as { version: string }).version;
