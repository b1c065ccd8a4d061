import path from 'node:path';
import { planArtifacts } from '../artifact/plan.js';
import { DRIVER_NAME, DRIVER_VERSION } from '../cli/settings.js';
import { quoted } from '../cli/text.js';
import { UserError } from '../errors.js';

/** One plan line, reduced to what names files: which host wants which driver for which kernel. */
export interface PlanRow {
  /** For the summary table: the node name of a JSON plan, `line <n>` for a row. */
  readonly host: string;
  readonly targetId: string;
  readonly kernelRelease: string;
  readonly kernelVersion: string;
  readonly arch: string;
  readonly driverName: string;
  readonly driverVersion: string;
  /** File extensions needed: .ko (kmod), .o (ebpf); none for modern_ebpf. */
  readonly exts: readonly ('.ko' | '.o')[];
}

/** One file the mirror must hold, deduplicated across plans. */
export interface NeededFile {
  /** `<version>/<arch>/<file>`, raw: the path under the mirror directory. */
  readonly key: string;
  readonly driverVersion: string;
  readonly arch: string;
  readonly fileName: string;
  /** Candidate upstream URLs, in order (each path segment percent-encoded: `+` is `%2B`). */
  readonly urls: readonly string[];
  readonly hosts: Set<string>;
}

const ARCH = /^[A-Za-z0-9_]{1,32}$/;
const KINDS: Readonly<Record<string, readonly ('.ko' | '.o')[]>> = {
  kmod: ['.ko'],
  ebpf: ['.o'],
  all: ['.ko', '.o'],
  modern_ebpf: [],
};

/** Plans text (JSON lines from --dry-run --json, rows, or both) → rows; the first bad line stops everything. */
export function parsePlans(text: string): PlanRow[] {
  const rows: PlanRow[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `plans line ${i + 1}`;
    rows.push(line.startsWith('{') ? fromJson(line, where) : fromRow(line, where, i + 1));
  });
  if (rows.length === 0) throw new UserError('The plans hold no plan: give --dry-run --json lines or rows');
  return rows;
}

function fromJson(line: string, where: string): PlanRow {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(line) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (doc.schemaVersion !== 1) {
    throw new UserError(
      `${where}: schemaVersion ${JSON.stringify(doc.schemaVersion)} is not one this version reads (1): collect the plans with the same falco-driver-loader version`,
    );
  }
  const get = (p: string): unknown => p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], doc);
  const text = (p: string): string => {
    const value = get(p);
    if (typeof value !== 'string') throw new UserError(`${where}: ${p} is missing or not a string`);
    return value;
  };
  const kind = get('driver.kind');
  return check(where, {
    host: typeof get('host.name.value') === 'string' ? printable(text('host.name.value')) : where,
    targetId: text('target.targetId'),
    kernelRelease: text('target.fixedKernelRelease'),
    kernelVersion: text('target.fixedKernelVersion'),
    arch: text('target.arch'),
    driverName: text('driver.name.value'),
    driverVersion: text('driver.version.value'),
    exts: typeof kind === 'string' ? (KINDS[kind] ?? []) : [],
  });
}

/** A node name goes into the summary table: no control characters, no screenful. */
function printable(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be printed raw
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 64);
}

function fromRow(line: string, where: string, n: number): PlanRow {
  const cells = line.includes('\t') ? line.split('\t').map((c) => c.trim()) : line.split(/\s+/);
  if (cells.length < 6 || cells.length > 7) {
    throw new UserError(
      `${where}: expected 6 or 7 fields (target id, kernel release, kernel version, arch, driver name, driver version, [kmod|ebpf|all]), got ${cells.length}`,
    );
  }
  const [targetId, kernelRelease, kernelVersion, arch, driverName, driverVersion, kind = 'kmod'] = cells as [
    string,
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  const exts = KINDS[kind];
  if (exts === undefined || kind === 'modern_ebpf') {
    throw new UserError(`${where}: driver kind ${quoted(kind)} must be kmod, ebpf or all`);
  }
  return check(where, {
    host: `line ${n}`,
    targetId,
    kernelRelease,
    kernelVersion,
    arch,
    driverName,
    driverVersion,
    exts,
  });
}

/** Every value becomes part of a path under --out: the loader's own rules, then one line naming the plan line. */
function check(where: string, row: PlanRow): PlanRow {
  if (!DRIVER_NAME.test(row.driverName)) {
    throw new UserError(
      `${where}: invalid driver name ${quoted(row.driverName)}: use 1-64 letters, digits, '-' or '_'`,
    );
  }
  if (!DRIVER_VERSION.test(row.driverVersion) || row.driverVersion.includes('..')) {
    throw new UserError(`${where}: invalid driver version ${quoted(row.driverVersion)}: expected e.g. 7.0.0+driver`);
  }
  if (!ARCH.test(row.arch)) {
    throw new UserError(`${where}: invalid architecture ${quoted(row.arch)}: expected e.g. x86_64 or aarch64`);
  }
  try {
    planArtifacts({
      ...row,
      fixedKernelRelease: row.kernelRelease,
      fixedKernelVersion: row.kernelVersion,
      repos: [],
      home: '/',
    });
  } catch (error) {
    throw new UserError(`${where}: ${(error as Error).message}`);
  }
  return row;
}

/** The files the rows need, each once, with the upstream URLs that may hold it. */
export function neededFiles(rows: readonly PlanRow[], repos: readonly string[], out: string): Map<string, NeededFile> {
  const files = new Map<string, NeededFile>();
  const root = path.resolve(out);
  for (const row of rows) {
    const plan = planArtifacts({
      ...row,
      fixedKernelRelease: row.kernelRelease,
      fixedKernelVersion: row.kernelVersion,
      repos,
      home: '/',
    });
    for (const ext of row.exts) {
      const artifact = ext === '.ko' ? plan.kmod : plan.ebpf;
      const key = path.join(row.driverVersion, row.arch, artifact.fileName);
      // Belt and braces: validated parts cannot climb out of --out, and this says so if that ever changes.
      if (!path.resolve(root, key).startsWith(`${root}${path.sep}`)) throw new Error(`${key} escapes ${root}`);
      const known = files.get(key);
      if (known !== undefined) {
        known.hosts.add(row.host);
        continue;
      }
      files.set(key, {
        key,
        driverVersion: row.driverVersion,
        arch: row.arch,
        fileName: artifact.fileName,
        urls: artifact.urls,
        hosts: new Set([row.host]),
      });
    }
  }
  return files;
}
