import type { Context } from '../context.js';
import type { Signer } from '../sign/module.js';
import type { RunResult } from '../system/exec.js';
import { sysPath } from '../system/sysroot.js';

/** One kernel-module run: the context, the abort signal of the run lock, and what was already said once. */
export interface KmodSession {
  readonly ctx: Context;
  readonly signal: AbortSignal;
  /** Hints printed at most once per run (the Secure Boot line would otherwise repeat for every source). */
  readonly hinted: Set<string>;
  /** Signs each module right before insmod (issue #10); undefined when no signing key was given. */
  readonly signer: Signer | undefined;
}

export function newSession(ctx: Context, signal: AbortSignal, signer?: Signer): KmodSession {
  return { ctx, signal, hinted: new Set(), signer };
}

export function say(s: KmodSession, line: string): void {
  s.ctx.io.out(`${line}\n`);
}

export function warn(s: KmodSession, line: string): void {
  s.ctx.io.err(`${line}\n`);
}

/** Shows what a program printed, on the stream it printed it to (legacy: rmmod/insmod/dkms output was visible). */
export function relay(s: KmodSession, result: RunResult, streams: { stdout: boolean; stderr: boolean }): void {
  if (streams.stdout) show(s, 'out', result.stdout);
  if (streams.stderr) show(s, 'err', result.stderr);
  if (result.failure !== undefined) show(s, 'err', result.failure);
}

/** Text that may or may not end with a newline (program output, a log file), as whole lines. */
export function show(s: KmodSession, stream: 'out' | 'err', text: string): void {
  if (text !== '') s.ctx.io[stream](text.endsWith('\n') ? text : `${text}\n`);
}

/** A kernel-facing path (/sys, /proc, /lib/modules, /var/lib/dkms) under FALCO_DRIVER_LOADER_SYSROOT. */
export function sys(s: KmodSession, absolute: string): string {
  return sysPath(s.ctx.settings.sysroot, absolute);
}

/** The machine and kernel a module must be built for (the real release, not the target's fixed-up name). */
export function expectation(s: KmodSession): { arch: string; kernelRelease: string } {
  return { arch: s.ctx.settings.arch, kernelRelease: s.ctx.settings.kernelRelease.value };
}
