import { InvalidArgumentError } from './errors.js';
import { endpointProblem } from './endpoints.js';

/** Bounds a route table: a chaos run routes each coordinator through one proxy per link. */
export const routesMax = 64;

/**
 * Where to dial when an address is meant: `address → via`. A node's,
 * worker's or client's own view of the network, never replicated: the cluster
 * keeps advertising real addresses (in membership and in leader hints) and
 * each process translates them when it opens a channel. The chaos module uses
 * it to send every link through its own fault proxy; it fits any address
 * translation (NAT, a local tunnel) as well.
 */
export class AddressRoutes {
  static readonly none = new AddressRoutes(new Map());

  private constructor(private readonly table: ReadonlyMap<string, string>) {}

  /** From `{ "127.0.0.1:7001": "127.0.0.1:17001", … }` or a Map; every key and value must be host:port. */
  static from(routes: ReadonlyMap<string, string> | Readonly<Record<string, string>> | undefined): AddressRoutes {
    if (routes === undefined) return AddressRoutes.none;
    const entries = routes instanceof Map ? [...(routes as ReadonlyMap<string, string>)] : Object.entries(routes);
    if (entries.length > routesMax) throw invalid(`at most ${routesMax} routes, got ${entries.length}`);
    const table = new Map<string, string>();
    for (const [from, via] of entries) {
      const problem = endpointProblem(from) || endpointProblem(via);
      if (problem !== '') throw invalid(`route ${from}=${via}: ${problem}`);
      if (table.has(from)) throw invalid(`two routes for ${from}`);
      table.set(from, via);
    }
    return table.size === 0 ? AddressRoutes.none : new AddressRoutes(table);
  }

  /** Parses `from=via,from=via` (the `--route` flag); '' is no routes. */
  static parse(text: string): AddressRoutes {
    const table = new Map<string, string>();
    for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const i = part.indexOf('=');
      if (i <= 0 || i === part.length - 1) throw invalid(`route "${part}" is not "host:port=host:port"`);
      const from = part.slice(0, i);
      if (table.has(from)) throw invalid(`two routes for ${from}`);
      table.set(from, part.slice(i + 1));
    }
    return AddressRoutes.from(table);
  }

  /** The address to dial for `address`: its route, or itself. */
  dial(address: string): string {
    return this.table.get(address) ?? address;
  }

  get size(): number {
    return this.table.size;
  }

  /** `from=via,…`, the form `parse` reads. */
  toString(): string {
    return [...this.table].map(([from, via]) => `${from}=${via}`).join(',');
  }
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message, { code: 'invalid', retryable: false });
}
