import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { redactUrl } from '../artifact/plan.js';
import type { Context } from '../context.js';
import { PRODUCT_VERSION } from '../defaults.js';
import { checkUrl } from '../fetch/check.js';
import { parseHeaderList } from '../fetch/headers.js';
import { which } from '../system/exec.js';
import { UNDETERMINED } from '../target/index.js';
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

  const artifact = s.driver.value === 'ebpf' ? plan.ebpf : s.driver.value === 'modern_ebpf' ? undefined : plan.kmod;
  if (artifact !== undefined) {
    out.push('\nArtifact\n');
    out.push(row('file name', artifact.fileName));
    out.push(row('cache path', `${artifact.cachePath}  (${existsSync(artifact.cachePath) ? 'present' : 'absent'})`));
    out.push('  candidate URLs:\n');
    const headers = parseHeaderList(s.httpHeaders);
    for (const [i, url] of artifact.urls.entries()) {
      let line = `    ${i + 1}. ${redactUrl(url)}`;
      if (ctx.args.check) {
        const result = await checkUrl(url, { insecure: s.insecure, headers, timeoutMs: 5000 });
        line += `  -> ${result.state} (${result.detail})`;
      }
      out.push(`${line}\n`);
    }
    if (!ctx.args.check) out.push('  (add --check to ask each URL whether the driver is there)\n');
  }

  out.push('\nSteps a real run would take\n');
  describeSteps(ctx).forEach((step, i) => {
    out.push(`  ${i + 1}. ${step}\n`);
  });
  ctx.io.out(out.join(''));
  return 0;
}

function describeSteps(ctx: Context): string[] {
  const { settings: s, plan, host } = ctx;
  const steps: string[] = [];
  const name = s.driverName.value;
  steps.push(`print the header line and check that it runs as root (exit 1 otherwise)`);
  if (host.target.targetId === UNDETERMINED) {
    steps.push(
      ctx.enableCompile
        ? 'warn that the target is undetermined and try to compile only'
        : 'stop: the target is undetermined and compiling was not allowed (exit 1)',
    );
  }
  const driver = s.driver.value;
  if (ctx.args.clean) {
    if (driver === 'ebpf') return [...steps, 'stop: --clean is not supported for driver=bpf (exit 1)'];
    return [...steps, ...cleaningSteps(ctx)];
  }
  if (driver === 'kmod' || driver === 'auto') {
    if (driver === 'auto') {
      steps.push(
        'check whether this kernel can run modern_ebpf (>= 5.8, BTF at /sys/kernel/btf/vmlinux, no confidentiality lockdown); if so stop there, else continue with the kernel module',
      );
    }
    steps.push(...cleaningSteps(ctx));
    steps.push(`load ${plan.kmod.cachePath} with insmod if it is already cached`);
    if (ctx.enableDownload) {
      for (const url of plan.kmod.urls) steps.push(`download ${redactUrl(url)}, verify it and insmod it`);
    }
    if (ctx.enableCompile) {
      const dkms = which('dkms', ctx.env);
      const gccs = gccCandidates(ctx.env);
      steps.push(
        dkms === undefined
          ? 'build with DKMS: skipped, dkms is not on PATH'
          : `build with DKMS (${dkms}) from ${plan.sourceDir} for kernel ${host.target.fixedKernelRelease}, once per compiler until one works: ${gccs.length === 0 ? 'no gcc found on PATH' : gccs.join(', ')}; insmod the result`,
      );
    }
    steps.push(`modprobe ${name} (a module installed on the system, possibly an older version)`);
    steps.push('if nothing worked: say so and exit 1');
  } else if (driver === 'ebpf') {
    steps.push('mount debugfs at /sys/kernel/debug when /sys/kernel/debug/tracing is missing');
    steps.push(`use ${plan.ebpf.cachePath} if it is already cached`);
    if (ctx.enableDownload) {
      for (const url of plan.ebpf.urls) steps.push(`download ${redactUrl(url)} (first success wins)`);
    }
    if (ctx.enableCompile) {
      steps.push(`build with make -C ${plan.sourceDir}/bpf (clang/llc from PATH)`);
    }
    steps.push(`symlink ${plan.ebpfSymlink} to the probe`);
  } else {
    steps.push(
      'check that this kernel can run modern_ebpf (>= 5.8, BTF at /sys/kernel/btf/vmlinux, no confidentiality lockdown); nothing is downloaded or built',
    );
  }
  return steps;
}

function cleaningSteps(ctx: Context): string[] {
  const kmod = ctx.plan.kmodName;
  return [
    `cleaning phase: unload '${kmod}' if lsmod lists it (up to 10 rmmod attempts, 5 s apart)`,
    `cleaning phase: dkms remove every version of '${kmod}' that dkms status lists`,
  ];
}

/** The gcc* programs next to `gcc` on PATH, in `ls` order, as the legacy script tried them (listed, not run). */
function gccCandidates(env: NodeJS.ProcessEnv): string[] {
  const gcc = which('gcc', env);
  if (gcc === undefined) return [];
  const dir = path.dirname(gcc);
  try {
    return readdirSync(dir)
      .filter((f) => /^gcc(-[0-9.]+)?$/.test(f))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [gcc];
  }
}
