import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseDriver } from '../auto.js';
import type { Context } from '../context.js';
import { PRODUCT_VERSION } from '../defaults.js';
import { commandLine, decide } from '../falcoctl/handoff.js';
import { checkUrl } from '../fetch/check.js';
import { SUMS_FILE, sumsUrlFor } from '../fetch/checksums.js';
import { parseHeaderList } from '../fetch/headers.js';
import { redact } from '../fetch/redact.js';
import type { DriverKind } from './args.js';
import { describeSteps } from './dryRun.js';
import type { Sourced } from './settings.js';

/**
 * `--dry-run --json` (issue 19): what --dry-run says in prose, as one document a fleet can collect and the mirror
 * mode can read (one per line). Bump SCHEMA_VERSION on any change that is not a new optional field, and update the
 * README's "--dry-run --json" table and test/cli/dryRunJson.test.ts with it.
 */
export const SCHEMA_VERSION = 1;

interface Checked {
  readonly url: string;
  readonly check?: { readonly state: string; readonly detail: string };
}

export interface DryRunDocument {
  readonly schemaVersion: number;
  readonly tool: { readonly name: 'falco-driver-loader'; readonly version: string };
  readonly host: {
    readonly name: Sourced<string>;
    readonly arch: Sourced<string>;
    readonly kernelRelease: Sourced<string>;
    readonly kernelVersion: Sourced<string>;
    readonly hostRoot: string;
    readonly distro: { readonly osId: string | null; readonly source: string };
  };
  readonly target: {
    readonly targetId: string;
    readonly fixedKernelRelease: string;
    readonly fixedKernelVersion: string;
    readonly arch: string;
  };
  readonly driver: {
    readonly requested: Sourced<DriverKind>;
    readonly kind: DriverKind | null;
    readonly autoChoice: { readonly driver: string | null; readonly reason: string } | null;
    readonly name: Sourced<string>;
    readonly version: Sourced<string>;
    readonly falcoVersion: Sourced<string>;
  };
  readonly download: boolean;
  readonly compile: boolean;
  readonly repositories: Sourced<readonly string[]>;
  readonly tlsVerify: boolean;
  readonly artifact: {
    readonly fileName: string;
    readonly cachePath: string;
    readonly cached: boolean;
    readonly urls: readonly Checked[];
    readonly checksum: {
      readonly required: boolean;
      readonly source: string;
      readonly file: string;
      readonly urls: readonly Checked[];
    };
  } | null;
  readonly falcoctl: {
    readonly policy: string;
    readonly path: string | null;
    readonly version: string | null;
    readonly handOff: boolean;
    readonly reason: string | null;
    readonly commandLine: string | null;
  };
  readonly steps: readonly string[];
}

/** Nothing but the document goes to stdout; anything that goes wrong before it is the usual one line on stderr. */
export async function dryRunJson(ctx: Context): Promise<number> {
  ctx.io.out(`${JSON.stringify(await buildDocument(ctx))}\n`);
  return 0;
}

export async function buildDocument(ctx: Context): Promise<DryRunDocument> {
  const { settings: s, host, plan } = ctx;
  let kind: DriverKind | null = s.driver.value;
  let autoChoice: DryRunDocument['driver']['autoChoice'] = null;
  if (kind === 'auto') {
    const choice = chooseDriver(ctx);
    autoChoice = { driver: choice.driver ?? null, reason: choice.reason };
    kind = choice.driver ?? null;
  }
  const artifact = kind === 'ebpf' ? plan.ebpf : kind === 'kmod' ? plan.kmod : undefined;
  const decision = await decide(ctx);
  const handOff = decision.handOff.kind === 'falcoctl' ? decision.handOff : undefined;
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'falco-driver-loader', version: PRODUCT_VERSION },
    host: {
      name: hostName(ctx),
      arch: { value: s.arch, source: 'running kernel' },
      kernelRelease: s.kernelRelease,
      kernelVersion: s.kernelVersion,
      hostRoot: s.hostRoot,
      distro: { osId: host.distro.osId ?? null, source: host.distro.source ?? 'not identified' },
    },
    target: {
      targetId: host.target.targetId,
      fixedKernelRelease: host.target.fixedKernelRelease,
      fixedKernelVersion: host.target.fixedKernelVersion,
      arch: s.arch,
    },
    driver: {
      requested: s.driver,
      kind,
      autoChoice,
      name: s.driverName,
      version: s.driverVersion,
      falcoVersion: s.falcoVersion,
    },
    download: ctx.enableDownload,
    compile: ctx.enableCompile,
    repositories: { value: s.repos.value.map(redact), source: s.repos.source },
    tlsVerify: !s.insecure,
    artifact:
      artifact === undefined
        ? null
        : {
            fileName: artifact.fileName,
            cachePath: artifact.cachePath,
            cached: existsSync(artifact.cachePath),
            urls: await checked(ctx, artifact.urls),
            checksum: {
              required: s.requireChecksum.value,
              source: s.requireChecksum.source,
              file: SUMS_FILE,
              urls: await checked(ctx, artifact.urls.map(sumsUrlFor)),
            },
          },
    falcoctl: {
      policy: decision.policy,
      path: decision.falcoctl?.path ?? null,
      version: decision.falcoctl?.version ?? null,
      handOff: handOff !== undefined,
      reason: decision.handOff.kind === 'standalone' ? decision.handOff.reason : null,
      commandLine:
        handOff === undefined
          ? null
          : commandLine(decision.falcoctl?.path ?? 'falcoctl', handOff.argv.map(redactArgument)),
    },
    steps: handOff === undefined ? describeSteps(ctx, kind ?? 'auto') : [],
  };
}

/** Every URL redacted; with --check, each asked (in order, like the prose) whether it is there. */
async function checked(ctx: Context, urls: readonly string[]): Promise<Checked[]> {
  const out: Checked[] = [];
  const headers = parseHeaderList(ctx.settings.httpHeaders);
  for (const url of urls) {
    if (!ctx.args.check) {
      out.push({ url: redact(url) });
      continue;
    }
    const result = await checkUrl(url, { insecure: ctx.settings.insecure, headers, timeoutMs: 5000, env: ctx.env });
    out.push({ url: redact(url), check: { state: result.state, detail: result.detail } });
  }
  return out;
}

/** Header values may be tokens: the falcoctl line keeps their names only. */
function redactArgument(arg: string): string {
  const m = /^(--http-headers=)(.*)$/s.exec(arg);
  if (m === null) return redact(arg);
  const names = (m[2] ?? '').split(',').map((h) => `${h.split(':')[0]?.trim() ?? ''}: ***`);
  return `${m[1]}${names.join(',')}`;
}

/**
 * Which node this plan is for, so the mirror's summary can name it: NODE_NAME (the Kubernetes downward API, as the
 * DaemonSet in the README sets it), else the host's /etc/hostname under HOST_ROOT, else this system's hostname.
 */
function hostName(ctx: Context): Sourced<string> {
  const fromEnv = ctx.env.NODE_NAME;
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: 'environment (NODE_NAME)' };
  if (ctx.settings.hostRoot !== '') {
    const file = path.join(ctx.settings.hostRoot, 'etc', 'hostname');
    try {
      const name = readFileSync(file, 'utf8').trim();
      if (name !== '') return { value: name, source: file };
    } catch {
      // no hostname file on the host: fall through
    }
  }
  return { value: os.hostname(), source: 'hostname' };
}
