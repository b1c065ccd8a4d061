import { msg } from './cli/messages.js';
import type { Context } from './context.js';
import { UserError } from './errors.js';
import { UNDETERMINED } from './target/index.js';

/**
 * A real run: the common gate of legacy-loader.md §B.4, then the driver's flow.
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
  if (host.target.targetId === UNDETERMINED) {
    if (!s.enableCompile) throw new UserError(msg.unsupported);
    io.err(`${msg.unsupportedCompileAnyway}\n`);
  }
  throw new UserError(
    `falco-driver-loader ${ctx.args.clean ? '--clean' : `for driver=${s.driver.value}`} is not available in this build yet; use --dry-run to see what it would do`,
  );
}
