import { existsSync } from 'node:fs';
import path from 'node:path';
import { redactUrl } from '../artifact/plan.js';
import { chooseDriver } from '../auto.js';
import type { Context } from '../context.js';
import { PRODUCT_VERSION } from '../defaults.js';
import { checkLegacyProbeExists } from '../ebpf/flow.js';
import { needsKernelSources } from '../ebpf/kernelSources.js';
import { commandLine, decide } from '../falcoctl/handoff.js';
import { checkUrl } from '../fetch/check.js';
import { parseHeaderList } from '../fetch/headers.js';
import { listGccNames } from '../kmod/gcc.js';
import { modernEbpfSupport } from '../modern/support.js';
import { signingReport, signingStep } from '../sign/dryRun.js';
import { which } from '../system/exec.js';
import { UNDETERMINED } from '../target/index.js';
import type { DriverKind } from './args.js';
import type { Sourced } from './settings.js';

const row = (label: string, value: string) => `  ${`${label}:`.padEnd(18)}${value}\n`;
const from = (s: Sourced<string>) => `${s.value}  (${s.source})`;

/** `--dry-run`: what was detected, from where, and what a real run would do. Changes nothing, needs no root. */
export async function dryRun(ctx: Context): Promise<number> {
  const { settings: s, host, plan } = ctx;
  const out: string[] = [];
  out.push(`falco-driver-loader ${PRODUCT_VERSION} --dry-run: nothing on this host is changed.\n\n`);

  out.push('Host\n');
  out.push(row('arch', `${s.arch}  (running kernel)`));
  out.push(row('kernel release', from(s.kernelRelease)));
  out.push(row('kernel version', from(s.kernelVersion)));
  out.push(row('host root', s.hostRoot === '' ? '/  (HOST_ROOT unset)' : `${s.hostRoot}  (HOST_ROOT)`));
  out.push(
    row('distro', host.distro.osId === undefined ? 'not identified' : `${host.distro.osId}  (${host.distro.source})`),
  );
  out.push('\nTarget\n');
  out.push(row('target id', host.target.targetId));
  out.push(row('kernel release', `${host.target.fixedKernelRelease}  (as used in file names)`));
  out.push(row('kernel version', `${host.target.fixedKernelVersion}  (as used in file names)`));

  out.push('\nDriver\n');
  out.push(row('driver', `${s.driver.value}  (${s.driver.source})`));
  out.push(row('driver name', from(s.driverName)));
  out.push(row('driver version', from(s.driverVersion)));
  out.push(row('falco version', from(s.falcoVersion)));
  out.push(row('download', ctx.enableDownload ? 'yes' : 'no'));
  out.push(row('compile', ctx.enableCompile ? 'yes' : 'no'));
  out.push(row('repositories', `${s.repos.value.map(redactUrl).join(', ')}  (${s.repos.source})`));
  if (s.insecure) out.push(row('TLS', 'certificate checks OFF (DRIVER_INSECURE_DOWNLOAD or --http-insecure)'));

  let driver: DriverKind = s.driver.value;
  if (driver === 'auto') {
    const choice = chooseDriver(ctx);
    out.push(row('auto choice', `${choice.driver ?? 'none'}  (${choice.reason})`));
    driver = choice.driver ?? 'auto';
  }
  const artifact = driver === 'ebpf' ? plan.ebpf : driver === 'kmod' ? plan.kmod : undefined;
  if (artifact !== undefined) {
    out.push('\nArtifact\n');
    out.push(row('file name', artifact.fileName));
    out.push(row('cache path', `${artifact.cachePath}  (${existsSync(artifact.cachePath) ? 'present' : 'absent'})`));
    out.push('  candidate URLs:\n');
    const headers = parseHeaderList(s.httpHeaders);
    for (const [i, url] of artifact.urls.entries()) {
      let line = `    ${i + 1}. ${redactUrl(url)}`;
      if (ctx.args.check) {
        const result = await checkUrl(url, { insecure: s.insecure, headers, timeoutMs: 5000, env: ctx.env });
        line += `  -> ${result.state} (${result.detail})`;
      }
      out.push(`${line}\n`);
    }
    if (!ctx.args.check) out.push('  (add --check to ask each URL whether the driver is there)\n');
    out.push(row('checksum', checksumText(ctx)));
  }
  if (driver === 'kmod' && !ctx.args.clean) {
    out.push('\nModule signing\n');
    out.push(...(await signingReport(ctx, row)));
  }

  const decision = await decide(ctx);
  out.push('\nfalcoctl hand-off\n');
  out.push(row('policy', decision.policy));
  out.push(
    row(
      'falcoctl',
      decision.falcoctl === undefined ? 'not used' : `${decision.falcoctl.path} (${decision.falcoctl.version})`,
    ),
  );
  if (decision.handOff.kind === 'falcoctl') {
    out.push(row('decision', 'hand off: a real run would print the header, check root, then run'));
    out.push(
      `    ${commandLine(decision.falcoctl?.path ?? 'falcoctl', decision.handOff.argv, decision.handOff.env)}\n`,
    );
    ctx.io.out(out.join(''));
    return 0;
  }
  out.push(row('decision', `standalone: ${decision.handOff.reason}`));

  out.push('\nSteps a real run would take\n');
  describeSteps(ctx, driver).forEach((step, i) => {
    out.push(`  ${i + 1}. ${step}\n`);
  });
  ctx.io.out(out.join(''));
  return 0;
}

/** The numbered steps, shared with `--dry-run --json` (issue 19). */
export function describeSteps(ctx: Context, driver: DriverKind): string[] {
  const steps = ['print the header line and check that it runs as root (exit 1 otherwise)'];
  if (ctx.host.target.targetId === UNDETERMINED) {
    steps.push(
      ctx.enableCompile
        ? 'warn that the target is undetermined and try to compile only'
        : 'stop: the target is undetermined and compiling was not allowed (exit 1)',
    );
  }
  if (ctx.args.clean) {
    if (driver === 'ebpf') return [...steps, 'stop: --clean is not supported for driver=bpf (exit 1)'];
    return [...steps, ...cleaningSteps(ctx)];
  }
  if (driver === 'kmod') return [...steps, ...kmodSteps(ctx)];
  if (driver === 'ebpf') return [...steps, ...ebpfSteps(ctx)];
  if (driver === 'modern_ebpf') return [...steps, ...modernSteps(ctx)];
  return [...steps, 'stop: no driver can work on this host (exit 1)'];
}

function kmodSteps(ctx: Context): string[] {
  const { settings: s, plan } = ctx;
  const steps = [...cleaningSteps(ctx)];
  const signing = signingStep(ctx);
  if (signing !== undefined) steps.push(signing);
  steps.push(`load ${plan.kmod.cachePath} with insmod if it is already cached and valid`);
  if (ctx.enableDownload) {
    for (const url of plan.kmod.urls) steps.push(`download ${redactUrl(url)}, verify it and insmod it`);
  }
  if (ctx.enableCompile) {
    const dkms = which('dkms', ctx.env);
    const gccs = gccCandidates(ctx.env);
    steps.push(
      dkms === undefined
        ? 'build with DKMS: skipped, dkms is not on PATH'
        : `build with DKMS (${dkms}) from ${plan.sourceDir} for kernel ${s.kernelRelease.value}, once per compiler until one works: ${gccs.length === 0 ? 'no gcc found on PATH' : gccs.join(', ')}; insmod the result`,
    );
  }
  steps.push(`modprobe ${s.driverName.value} (a module installed on the system, possibly an older version)`);
  steps.push('if nothing worked: say so and exit 1');
  return steps;
}

function ebpfSteps(ctx: Context): string[] {
  const { plan, settings: s } = ctx;
  try {
    checkLegacyProbeExists(s.driverVersion.value);
  } catch (error) {
    return [`stop: ${(error as Error).message} (exit 1)`];
  }
  const steps = [
    'mount debugfs at /sys/kernel/debug when /sys/kernel/debug/tracing is missing',
    `use ${plan.ebpf.cachePath} if it is already cached and is an eBPF object`,
  ];
  if (ctx.enableDownload) {
    for (const url of plan.ebpf.urls) steps.push(`download ${redactUrl(url)} and verify it (first success wins)`);
  }
  if (ctx.enableCompile) {
    if (needsKernelSources(ctx)) {
      steps.push("download and prepare kernel sources (COS headers, or vanilla sources with this kernel's config)");
    }
    steps.push(`build with make -C ${plan.sourceDir}/bpf (clang/llc from PATH) and verify the result`);
  }
  steps.push(`symlink ${plan.ebpfSymlink} to the probe`);
  return steps;
}

function modernSteps(ctx: Context): string[] {
  const support = modernEbpfSupport(ctx);
  return [
    `check that this kernel can run modern_ebpf: ${support.findings.join('; ')}`,
    support.supported
      ? 'report success: nothing to download or build, Falco carries the probe (exit 0)'
      : 'report each missing requirement (exit 1)',
  ];
}

function cleaningSteps(ctx: Context): string[] {
  const kmod = ctx.plan.kmodName;
  return [
    `cleaning phase: unload '${kmod}' if lsmod lists it (up to 10 rmmod attempts, 5 s apart)`,
    `cleaning phase: dkms remove every version of '${kmod}' that dkms status lists`,
  ];
}

/** Issue 19: whether a real run checks the download against a SHA256SUMS beside it. */
function checksumText(ctx: Context): string {
  const r = ctx.settings.requireChecksum;
  return r.value
    ? `required: each download must match the SHA256SUMS beside it, else the next source  (${r.source})`
    : 'checked against the SHA256SUMS beside each file when the repository serves one  (FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM unset)';
}

/** The gcc* programs next to `gcc` on PATH, in the order a real run considers them (listed, not run). */
function gccCandidates(env: NodeJS.ProcessEnv): string[] {
  const gcc = which('gcc', env);
  if (gcc === undefined) return [];
  const dir = path.dirname(gcc);
  return listGccNames(dir).map((f) => path.join(dir, f));
}
