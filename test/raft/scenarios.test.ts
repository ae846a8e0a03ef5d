/**
 * Runs every scripted scenario in test/raft/scenarios/*.txt through
 * InteractionEnv (see interaction.ts for the file format and commands).
 *
 * To regenerate the expected output after a deliberate behaviour change, run
 *
 *     TESTUDO_REWRITE=1 npx vitest run test/raft/scenarios.test.ts
 *
 * and read the diff before committing it: the expected output must be correct
 * Raft behaviour, not merely what the code printed.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InteractionEnv, parseCommand, parseScenario, renderScenario } from './interaction.js';

const scenarioDir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
const rewrite = process.env['TESTUDO_REWRITE'] === '1';
const files = readdirSync(scenarioDir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

/** A short line diff so that a failure names the first differing line. */
function diff(expected: string, actual: string): string {
  const e = expected.split('\n');
  const a = actual.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] === a[i]) continue;
    if (e[i] !== undefined) out.push(`- ${e[i]}`);
    if (a[i] !== undefined) out.push(`+ ${a[i]}`);
  }
  return out.join('\n');
}

describe('scenario file format', () => {
  it('parses commands with positional, key=value and key=(list) arguments', () => {
    expect(parseCommand('add-nodes 3 voters=(1, 2,3) learners=() prevote=true')).toEqual({
      name: 'add-nodes',
      args: [
        { key: null, values: ['3'] },
        { key: 'voters', values: ['1', '2', '3'] },
        { key: 'learners', values: [] },
        { key: 'prevote', values: ['true'] },
      ],
    });
  });

  it('renders a parsed file back unchanged', () => {
    for (const file of files) {
      const text = readFileSync(join(scenarioDir, file), 'utf8');
      const scenario = parseScenario(text, file);
      expect(renderScenario(scenario, scenario.blocks.map((b) => b.expected))).toBe(text);
    }
  });

  it('rejects a command without its ---- line, naming file and line', () => {
    expect(() => parseScenario('# c\ncampaign 1\nnot-a-separator\n', 'x.txt')).toThrow('x.txt:2');
  });
});

describe('raft scenarios', () => {
  it('finds scenario files', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(file, () => {
      const path = join(scenarioDir, file);
      const scenario = parseScenario(readFileSync(path, 'utf8'), file);
      const env = new InteractionEnv();
      const outputs: string[] = [];
      for (const block of scenario.blocks) {
        const actual = env.handle(block.command);
        outputs.push(actual);
        if (!rewrite && actual !== block.expected) {
          const where = `${file}:${block.line}: output of "${block.command}" differs (- expected, + actual)`;
          expect.fail(`${where}\n${diff(block.expected, actual)}\n\nrerun with TESTUDO_REWRITE=1 to accept the new output`);
        }
      }
      if (rewrite) writeFileSync(path, renderScenario(scenario, outputs));
    });
  }
});
