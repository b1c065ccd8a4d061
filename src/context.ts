import { type ArtifactPlan, planArtifacts } from './artifact/plan.js';
import type { ParsedArgs } from './cli/args.js';
import type { Settings } from './cli/settings.js';
import type { Streams } from './errors.js';
import type { HostFacts } from './host/detect.js';
import type { Platform } from './system/platform.js';
import { UNDETERMINED } from './target/index.js';

/** Everything a step needs, resolved once: pass this, not a handful of parameters. */
export interface Context {
  readonly args: ParsedArgs;
  readonly settings: Settings;
  readonly host: HostFacts;
  readonly plan: ArtifactPlan;
  /** Download and compile as a real run would do them: an undetermined target turns download off (§B.4.3). */
  readonly enableDownload: boolean;
  readonly enableCompile: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly io: Streams;
  readonly platform: Platform;
}

export function makeContext(base: Pick<Context, 'args' | 'settings' | 'host' | 'env' | 'io' | 'platform'>): Context {
  const { settings, host } = base;
  const plan = planArtifacts({
    driverName: settings.driverName.value,
    driverVersion: settings.driverVersion.value,
    arch: settings.arch,
    targetId: host.target.targetId,
    fixedKernelRelease: host.target.fixedKernelRelease,
    fixedKernelVersion: host.target.fixedKernelVersion,
    repos: settings.repos.value,
    home: settings.home,
  });
  const undetermined = host.target.targetId === UNDETERMINED;
  return {
    ...base,
    plan,
    enableCompile: settings.enableCompile,
    enableDownload: settings.enableDownload && !(undetermined && settings.enableCompile),
  };
}
