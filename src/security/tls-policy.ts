import { isIP } from 'node:net';

/**
 * Safe defaults: a coordinator or worker serves on a non-loopback address only
 * with TLS and tokens both on, unless `--insecure` says otherwise. Pure
 * decisions, each with its reason, taken before anything binds.
 */

/** One address the process will listen on. */
export interface ListenAddress {
  /** The setting that names it, for the message: '--listen', '--http'. */
  readonly setting: string;
  readonly host: string;
}

export interface ListenPolicyInput {
  readonly role: 'coordinator' | 'worker';
  readonly addresses: readonly ListenAddress[];
  readonly tls: boolean;
  readonly tokens: boolean;
  readonly insecure: boolean;
}

export type ListenVerdict =
  /** `warning` is set when --insecure let through what would have been refused. */
  | { readonly ok: true; readonly warning: string | null }
  | { readonly ok: false; readonly reason: string };

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){1,7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

export function checkListenPolicy(input: ListenPolicyInput): ListenVerdict {
  const exposed = input.addresses.filter((a) => !isLoopbackHost(a.host));
  if (exposed.length === 0 || (input.tls && input.tokens)) return { ok: true, warning: null };
  const where = exposed.map((a) => `${a.setting} ${a.host}`).join(' and ');
  const lacking = [input.tls ? null : 'TLS', input.tokens ? null : 'tokens'].filter((x) => x !== null).join(' and ');
  if (input.insecure) {
    return {
      ok: true,
      warning: `INSECURE: --insecure is set, so this ${input.role} serves on ${where} without ${lacking}: anyone who reaches it ${consequence(input.role)}. Use it only on a network you trust completely (docs/security.md, "Safe defaults").`,
    };
  }
  return { ok: false, reason: `refusing to serve on ${where} without ${lacking}: anyone who reaches this ${input.role} ${consequence(input.role)}. ${remedy(input)}` };
}

function consequence(role: ListenPolicyInput['role']): string {
  return role === 'coordinator' ? 'could submit runs (shell commands on every worker), change membership and forge results' : "could read its tasks' logs and metrics, and change its chaos settings";
}

function remedy(input: ListenPolicyInput): string {
  const steps: string[] = [];
  if (!input.tls) steps.push('turn on TLS with --tls-cert, --tls-key and --tls-ca (`testudo certs init DIR` makes a development set)');
  if (!input.tokens) steps.push(input.role === 'coordinator' ? 'give the accepted tokens with --auth-file' : 'give the tokens its --http port accepts with --auth-file (the coordinators\' auth file)');
  return `To fix: ${steps.join(', and ')}; or listen on 127.0.0.1 only; or, on a network you trust completely, pass --insecure (docs/security.md, "Safe defaults").`;
}

/**
 * Whether a config field the security settings read was set by a flag, the
 * environment or the file (`sources` is CoordinatorConfig.sources, where an
 * unset field reads 'default'). Reads by name, so it also sees fields other
 * modules add to the coordinator's configuration (authFile).
 */
export function configFieldSet(sources: Readonly<Record<string, string>>, field: string): boolean {
  const source = sources[field];
  return source !== undefined && source !== 'default';
}
