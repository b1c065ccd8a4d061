import semverCoerce from 'semver/functions/coerce.js';
import semverGte from 'semver/functions/gte.js';
import { run, which } from '../system/exec.js';

export interface Falcoctl {
  readonly path: string;
  /** The `Client Version:` semver falcoctl reports. */
  readonly version: string;
  /** The long flags `falcoctl driver install --help` lists: what this build can be told. */
  readonly installFlags: ReadonlySet<string>;
  /**
   * `--type string` rather than `--type strings` in that help: one type only (falcoctl 0.7.x, whose own `auto`
   * picks by distro), so no priority list can be handed to it.
   */
  readonly singleType?: boolean;
}

/** `driver install|cleanup` exist from 0.7.0 (Falco 0.37). */
export const DRIVER_COMMAND_SINCE = '0.7.0';

/**
 * Finds falcoctl on PATH and asks it, once per run, for its version and for the flags of `driver install`. Reading
 * the flags from its own help, rather than from a version table, keeps the translation honest for every build.
 */
export async function detectFalcoctl(env: NodeJS.ProcessEnv): Promise<Falcoctl | undefined> {
  const path = which('falcoctl', env);
  if (path === undefined) return undefined;
  // 30 s: the first start of a 60 MB static Go binary under emulation (the QEMU e2e) took over 10 s.
  const version = await run(path, ['version'], { env, timeoutMs: 30_000 });
  const parsed = parseFalcoctlVersion(version.stdout);
  if (version.failure !== undefined || version.exitCode !== 0 || parsed === undefined) {
    return { path, version: '0.0.0', installFlags: new Set() };
  }
  if (!semverGte(parsed, DRIVER_COMMAND_SINCE)) return { path, version: parsed, installFlags: new Set() };
  const help = await run(path, ['driver', 'install', '--help'], { env, timeoutMs: 30_000 });
  return { path, version: parsed, ...parseInstallHelp(`${help.stdout}\n${help.stderr}`) };
}

/** `Client Version: v0.12.2` (or a bare `0.12.2`) → `0.12.2`. */
export function parseFalcoctlVersion(text: string): string | undefined {
  const line = /Client Version:\s*v?(\S+)/i.exec(text)?.[1] ?? /^\s*v?(\d+\.\d+\.\d+\S*)\s*$/m.exec(text)?.[1];
  if (line === undefined) return undefined;
  return semverCoerce(line, { includePrerelease: true })?.version;
}

/** What `falcoctl driver install --help` tells: its long flags, and whether `--type` takes one value only. */
export function parseInstallHelp(help: string): Pick<Falcoctl, 'installFlags' | 'singleType'> {
  return { installFlags: parseLongFlags(help), singleType: /--type string\s/.test(help) };
}

export function parseLongFlags(help: string): Set<string> {
  return new Set([...help.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((m) => m[1] as string));
}
