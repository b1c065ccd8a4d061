import { closeSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { isFile } from '../system/fsCheck.js';
import { type OsRelease, parseOsRelease } from './osRelease.js';

/** Where the distro facts came from, for --dry-run. */
export interface DistroFacts {
  /** Lower-cased distro id, or undefined when nothing identified the host. */
  readonly osId: string | undefined;
  readonly osRelease: OsRelease;
  /** The file that identified the distro, as the user would name it (HOST_ROOT prefix included). */
  readonly source: string | undefined;
  /** ${HOST_ROOT}/etc/VERSION content when the file exists (minikube). */
  readonly minikubeVersionFile: string | undefined;
}

/** os-release files are a few hundred bytes; anything past this is not read (a 10 MB file is garbage anyway). */
const MAX_READ = 64 * 1024;

/** Fallbacks when no os-release names the distro, in the legacy order (legacy-loader.md §A.6). */
const FALLBACKS: ReadonlyArray<readonly [string, string]> = [
  ['etc/debian_version', 'debian'],
  ['etc/centos-release', 'centos'],
  ['etc/redhat-release', 'rhel'],
];

export function readDistroFacts(hostRoot: string): DistroFacts {
  const root = hostRoot === '' ? '/' : hostRoot;
  if (hostRoot !== '') checkHostRoot(hostRoot);
  const shown = (rel: string) => `${hostRoot}/${rel}`;

  const minikubeVersionFile = readSmallFile(path.join(root, 'etc/VERSION'));
  let osId: string | undefined;
  let osRelease: OsRelease = {};
  let source: string | undefined;

  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    const text = readSmallFile(path.join(root, rel));
    if (text === undefined) continue;
    osRelease = parseOsRelease(text);
    const id = (osRelease.ID ?? '').trim().toLowerCase();
    // An os-release without ID gave the legacy script an empty target (`falco__<release>…`); fall through instead.
    if (id !== '' && /^[a-z0-9._-]+$/.test(id)) {
      osId = id;
      source = shown(rel);
    }
    break;
  }
  if (osId === undefined) {
    for (const [rel, id] of FALLBACKS) {
      if (isFile(path.join(root, rel))) {
        osId = id;
        source = shown(rel);
        break;
      }
    }
  }
  // minikube overrides whatever else was found (0.33+); on its own it identifies the host too (legacy: undetermined).
  if (minikubeVersionFile !== undefined) {
    osId = 'minikube';
    source = shown('etc/VERSION');
  }
  return { osId, osRelease, source, minikubeVersionFile };
}

function checkHostRoot(hostRoot: string): void {
  let isDir = false;
  try {
    isDir = statSync(hostRoot).isDirectory();
  } catch {
    throw new UserError(
      `HOST_ROOT=${hostRoot} does not exist: mount the host's root filesystem there, or unset HOST_ROOT`,
    );
  }
  if (!isDir) {
    throw new UserError(
      `HOST_ROOT=${hostRoot} is not a directory: point it at the host's root filesystem, or unset it`,
    );
  }
}

/** The first MAX_READ bytes of a regular file, or undefined when it is absent or not a regular file. */
export function readSmallFile(file: string): string | undefined {
  if (!isFile(file)) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(MAX_READ);
    const length = readSync(fd, buffer, 0, MAX_READ, 0);
    return buffer.subarray(0, length).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
