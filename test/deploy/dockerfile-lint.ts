/**
 * A structural check of deploy/Dockerfile, for machines without hadolint:
 * the rules this project cares about, each reported with its line.
 *
 * - every stage's base image is pinned by tag and sha256 digest (ARG
 *   defaults are followed);
 * - at least two stages (build, runtime), and the runtime installs
 *   production dependencies only (`npm ci --omit=dev`);
 * - the final stage runs as a user other than root, has a HEALTHCHECK and
 *   an ENTRYPOINT;
 * - no `latest` tag, no ADD of a URL, no `sudo`.
 */

export interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (pending === '') startLine = i + 1;
    pending += `${pending === '' ? '' : ' '}${line.replace(/\\$/, '').trim()}`;
    if (line.endsWith('\\')) continue;
    const match = /^(\S+)\s*(.*)$/.exec(pending)!;
    out.push({ line: startLine, keyword: match[1]!.toUpperCase(), args: match[2]! });
    pending = '';
  }
  return out;
}

const digestPattern = /^[^@\s]+:[^@\s:/]+@sha256:[0-9a-f]{64}$/;

export function dockerfileProblems(text: string): string[] {
  const instructions = parseDockerfile(text);
  const problems: string[] = [];
  const args = new Map<string, string>();
  const stages: Instruction[][] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'ARG' && stages.length === 0) {
      const eq = ins.args.indexOf('=');
      if (eq > 0) args.set(ins.args.slice(0, eq), ins.args.slice(eq + 1));
    }
    if (ins.keyword === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push(ins);
  }
  if (stages.length < 2) problems.push(`${stages.length} stage(s): build and runtime must be separate stages`);
  for (const stage of stages) {
    const from = stage[0]!;
    const ref = from.args.split(/\s+/)[0]!;
    const image = ref.replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => args.get(name) ?? `<undefined ARG ${name}>`);
    if (!digestPattern.test(image)) problems.push(`line ${from.line}: FROM ${image} is not pinned by tag and sha256 digest`);
    if (/:latest(@|$)/.test(image)) problems.push(`line ${from.line}: FROM uses the latest tag`);
  }
  for (const ins of instructions) {
    if (ins.keyword === 'ADD' && /https?:\/\//.test(ins.args)) problems.push(`line ${ins.line}: ADD of a URL (use a pinned, checked download in RUN)`);
    if (ins.keyword === 'RUN' && /\bsudo\b/.test(ins.args)) problems.push(`line ${ins.line}: sudo in RUN`);
  }
  const final = stages[stages.length - 1] ?? [];
  const users = final.filter((i) => i.keyword === 'USER');
  const lastUser = users[users.length - 1]?.args.split(':')[0];
  if (lastUser === undefined) problems.push('the final stage sets no USER: it would run as root');
  else if (lastUser === 'root' || lastUser === '0') problems.push(`the final stage runs as ${lastUser}`);
  if (!final.some((i) => i.keyword === 'HEALTHCHECK' && !/^NONE\b/i.test(i.args))) problems.push('the final stage has no HEALTHCHECK');
  if (!final.some((i) => i.keyword === 'ENTRYPOINT')) problems.push('the final stage has no ENTRYPOINT');
  if (!final.some((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args))) problems.push('the final stage does not install production dependencies only (npm ci --omit=dev)');
  return problems;
}
