import { chooseDriver } from './auto.js';
import { msg } from './cli/messages.js';
import type { Context } from './context.js';
import { checkLegacyProbeExists, runEbpf } from './ebpf/flow.js';
import { UserError } from './errors.js';
import { decide, runFalcoctl, standaloneNote } from './falcoctl/handoff.js';
import { downloadSettingsFrom } from './fetch/settings.js';
import { lockOptions, runClean, runKmod } from './kmod/flow.js';
import { runModernEbpf } from './modern/flow.js';
import { withLock } from './system/lock.js';
import { UNDETERMINED } from './target/index.js';

/**
 * A real run: the common gate of legacy-loader.md §B.4, the falcoctl hand-off decision (issue #5), then the
 * driver's own flow.
 */
export async function runLoader(ctx: Context): Promise<number> {
  const { settings: s, host, io } = ctx;
  io.out(
    `${msg.header({
      falcoVersion: s.falcoVersion.value,
      driverVersion: s.driverVersion.value,
      arch: s.arch,
      kernelRelease: host.target.fixedKernelRelease,
      kernelVersion: host.target.fixedKernelVersion,
    })}\n`,
  );
  if (ctx.platform.uid() !== 0) throw new UserError(msg.notRoot);
  // A request that cannot work is refused before anything is attempted, by us or by falcoctl.
  if (s.driver.value === 'ebpf' && !ctx.args.clean) checkLegacyProbeExists(s.driverVersion.value);
  // So is a DRIVER_CURL_OPTIONS or size limit that cannot be used (issue #8): found only at the first download, it
  // would end the run after the Cleaning phase had already unloaded the module.
  if (!ctx.args.clean && s.driver.value !== 'modern_ebpf') downloadSettingsFrom(s, ctx.env, () => undefined);

  const decision = await decide(ctx);
  if (decision.handOff.kind === 'falcoctl' && decision.falcoctl !== undefined) {
    return runFalcoctl(ctx, decision.falcoctl, decision.handOff.argv, decision.handOff.env);
  }
  const note = standaloneNote(decision);
  if (note !== undefined) io.out(`${note}\n`);

  if (host.target.targetId === UNDETERMINED) {
    if (!s.enableCompile) throw new UserError(msg.unsupported);
    io.err(`${msg.unsupportedCompileAnyway}\n`);
  }
  if (ctx.args.clean) return runClean(ctx);
  switch (s.driver.value) {
    case 'kmod':
      return runKmod(ctx);
    case 'ebpf':
      return runEbpfLocked(ctx);
    case 'modern_ebpf':
      return runModernEbpf(ctx);
    case 'auto':
      return runAuto(ctx);
  }
}

function runEbpfLocked(ctx: Context): Promise<number> {
  return withLock(lockOptions(ctx), (signal) => runEbpf(ctx, signal));
}

async function runAuto(ctx: Context): Promise<number> {
  const choice = chooseDriver(ctx);
  if (choice.driver === undefined) {
    throw new UserError(`auto: no driver can work on this host: ${choice.reason}`);
  }
  ctx.io.out(`* auto: choosing ${choice.driver} (${choice.reason})\n`);
  if (choice.driver === 'modern_ebpf') return runModernEbpf(ctx);
  if (choice.driver === 'ebpf') return runEbpfLocked(ctx);
  return runKmod(ctx);
}
