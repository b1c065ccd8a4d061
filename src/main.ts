import { readFileSync } from 'node:fs';
import { MIRROR_COMMAND, parseArgs } from './cli/args.js';
import { SOURCE_ONLY_HINT } from './cli/messages.js';
import { printEnv } from './cli/printEnv.js';
import { resolveSettings } from './cli/settings.js';
import { usage } from './cli/usage.js';
import { makeContext } from './context.js';
import { BUILD_DEFAULTS, PRODUCT_VERSION } from './defaults.js';
import { handleError, type Streams, UserError } from './errors.js';
import { stderrTerminal } from './fetch/progress.js';
import { detectHost } from './host/detect.js';
import { type Platform, realPlatform } from './system/platform.js';

/** argv + env → options → host facts → target → plan → action. Returns the exit code; never throws. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Streams,
  platform: Platform = realPlatform,
): Promise<number> {
  try {
    // Issue 19: `mirror` as the first word; in the legacy grammar it was an unknown driver, so nothing changes meaning.
    if (argv[0] === MIRROR_COMMAND) {
      const { runMirror } = await import('./mirror/run.js');
      return await runMirror(argv.slice(1), env, {
        ...io,
        stdin: () => readFileSync(0, 'utf8'),
        terminal: stderrTerminal(),
      });
    }
    const args = parseArgs(argv);
    if (args.help) {
      io.out(usage());
      return 0;
    }
    if (args.version) {
      io.out(
        `falco-driver-loader ${PRODUCT_VERSION}\nbuilt-in defaults: falco version ${BUILD_DEFAULTS.falcoVersion}, driver version ${BUILD_DEFAULTS.driverVersion}, driver name ${BUILD_DEFAULTS.driverName}, repo ${BUILD_DEFAULTS.driversRepo}\n`,
      );
      return 0;
    }
    // Legacy order (§B.1): --source-only wins over --print-env.
    if (args.sourceOnly) {
      io.err(`${SOURCE_ONLY_HINT}\n`);
      return 0;
    }
    if (args.check && !args.dryRun) {
      throw new UserError('--check only works together with --dry-run: run falco-driver-loader --dry-run --check');
    }
    if (args.json && !args.dryRun) {
      throw new UserError('--json only works together with --dry-run: run falco-driver-loader --dry-run --json');
    }
    const settings = await resolveSettings(args, env, platform);
    const host = detectHost(settings);
    if (args.printEnv) {
      io.out(printEnv(settings, host.target));
      return 0;
    }
    const ctx = makeContext({ args, settings, host, env, io, platform });
    // Loaded on demand: --print-env, --help and --version never evaluate the flows (start-up, issue #17).
    if (args.dryRun && args.json) return await (await import('./cli/dryRunJson.js')).dryRunJson(ctx);
    if (args.dryRun) return await (await import('./cli/dryRun.js')).dryRun(ctx);
    return await (await import('./run.js')).runLoader(ctx);
  } catch (error) {
    return handleError(error, io);
  }
}
