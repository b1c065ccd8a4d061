import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { sysPath } from '../system/sysroot.js';

/** At most this many processes are named: the line must stay one line on a host where many readers share it. */
const MAX_NAMED = 4;

export interface ModuleUse {
  /** `/sys/module/<k>/refcnt`: what the kernel counts (each open device, each dependent module). */
  readonly refcnt: number | undefined;
  /** `/sys/module/<k>/holders/*`: modules that depend on it. */
  readonly modules: readonly string[];
  /** Processes with one of the driver's devices (`/dev/<k>N`, e.g. /dev/scap0, /dev/falco3) open. */
  readonly processes: readonly { pid: number; comm: string; devices: readonly string[] }[];
}

/**
 * Who keeps a module from unloading, from what the kernel shows anyone (issue #14): Falco's and sysdig's drivers
 * are held by the processes that opened /dev/<name>N, which `rmmod`'s "Module is in use" does not name. Best
 * effort: a process that exits while it is read, or a /proc we may not read, is skipped.
 */
export function moduleUse(sysroot: string, kmodName: string): ModuleUse {
  const dir = sysPath(sysroot, `/sys/module/${kmodName}`);
  const refcntText = read(path.join(dir, 'refcnt'));
  const refcnt = refcntText !== undefined && /^\d+$/.test(refcntText) ? Number(refcntText) : undefined;
  return { refcnt, modules: list(path.join(dir, 'holders')).sort(), processes: openers(sysroot, kmodName) };
}

function openers(sysroot: string, kmodName: string): ModuleUse['processes'] {
  const proc = sysPath(sysroot, '/proc');
  // Devices as the process sees them; with HOST_ROOT a containerised Falco may show /host/dev/falco0.
  const device = new RegExp(`(?:^|/)dev/${kmodName.replace(/[^A-Za-z0-9_]/g, '\\$&')}\\d+$`);
  const found: { pid: number; comm: string; devices: string[] }[] = [];
  for (const entry of list(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const fdDir = path.join(proc, entry, 'fd');
    const devices = new Set<string>();
    for (const fd of list(fdDir)) {
      const target = link(path.join(fdDir, fd));
      if (target !== undefined && device.test(target)) devices.add(target);
    }
    if (devices.size === 0) continue;
    const comm = read(path.join(proc, entry, 'comm')) ?? '?';
    found.push({ pid: Number(entry), comm, devices: [...devices].sort(devOrder) });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** One line: "use count 2; /dev/scap0, /dev/scap1 open in sysdig (pid 245)". */
export function describeUse(use: ModuleUse): string {
  const parts: string[] = [];
  if (use.refcnt !== undefined) parts.push(`use count ${use.refcnt}`);
  if (use.modules.length > 0)
    parts.push(`needed by module${use.modules.length > 1 ? 's' : ''} ${use.modules.join(', ')}`);
  const named = use.processes.slice(0, MAX_NAMED).map((p) => `${p.comm} (pid ${p.pid}): ${p.devices.join(', ')}`);
  if (use.processes.length > MAX_NAMED) named.push(`${use.processes.length - MAX_NAMED} more`);
  if (named.length > 0) parts.push(`open in ${named.join('; ')}`);
  if (use.processes.length === 0 && use.modules.length === 0) parts.push('no process with its device open was found');
  return parts.join('; ');
}

function devOrder(a: string, b: string): number {
  const n = (s: string) => Number(/(\d+)$/.exec(s)?.[1] ?? 0);
  return a.length - b.length || n(a) - n(b) || a.localeCompare(b);
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function link(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
