/**
 * Free ports for local clusters, reserved across every process on the machine.
 *
 * A port is handed out only if it can be bound now and no live process holds
 * its reservation: a file `<port>` in a shared directory, created exclusively,
 * that names the owner's pid. A port handed out stays reserved while its
 * owner lives, even while nothing listens on it — the case of a fault proxy
 * that is disabled and will listen on the same address again, or of a
 * coordinator being restarted on its port. Without the reservation another
 * test process could pick that port in the gap and the proxy or coordinator
 * could never come back. A reservation whose owner is dead is taken over.
 *
 * Ports are drawn from below the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range, 32768–60999 by default), so an outgoing
 * connection never takes one between the check and the child's bind.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const freePortRange = { min: 20_000, max: 32_767 } as const;
/** Tries before giving up on finding a free port. */
export const freePortTriesMax = 200;

/** Where reservations live; TESTUDO_PORTS_DIR overrides it (tests of this module). */
export function reservationDir(): string {
  return process.env['TESTUDO_PORTS_DIR'] ?? join(tmpdir(), 'testudo-ports');
}

/** Ports this process reserved. */
const reservedHere = new Set<number>();

/** A port on 127.0.0.1 that was free a moment ago and is now reserved for this process. */
export async function freePort(): Promise<number> {
  const dir = reservationDir();
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < freePortTriesMax; i++) {
    const port = freePortRange.min + Math.floor(Math.random() * (freePortRange.max - freePortRange.min + 1));
    if (reservedHere.has(port)) continue;
    if (!reserve(dir, port)) continue;
    if (await canBind(port)) return port;
    // Bound by something that does not reserve (another program): keep the reservation so this
    // process does not try it again, and look further.
  }
  throw new Error(`no free port in ${freePortRange.min}..${freePortRange.max} after ${freePortTriesMax} tries`);
}

/** Takes the reservation of `port` for this process; false if a live process holds it. */
export function reserve(dir: string, port: number): boolean {
  const file = join(dir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      reservedHere.add(port);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = ownerOf(file);
    if (owner === process.pid) return false;
    // No pid yet: an owner between creating the file and writing to it, unless the file is old.
    if (owner === undefined ? !isOld(file) : isAlive(owner)) return false;
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return false;
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Age after which a reservation that names no pid is abandoned. */
const unnamedReservationMaxAgeMs = 10_000;

function isOld(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > unnamedReservationMaxAgeMs;
  } catch {
    return true;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether 127.0.0.1:port can be bound right now. */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
