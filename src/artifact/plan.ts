import path from 'node:path';
import { redactUrl } from '../cli/redact.js';
import { quoted } from '../cli/text.js';
import { UserError } from '../errors.js';

/** Everything that names a driver artifact, computed once (issue #2) for the run, --dry-run, --print-env and falcoctl. */
export interface PlanInput {
  readonly driverName: string;
  readonly driverVersion: string;
  readonly arch: string;
  readonly targetId: string;
  readonly fixedKernelRelease: string;
  readonly fixedKernelVersion: string;
  readonly repos: readonly string[];
  readonly home: string;
}

export interface Artifact {
  /** `<name>_<target>_<release>_<version>.ko|.o` */
  readonly fileName: string;
  /** `$HOME/.falco/<driver version>/<arch>/<file>` (raw, unescaped). */
  readonly cachePath: string;
  /** `<repo>/<driver version>/<arch>/<file>` for each repo, in order, each path segment percent-encoded. */
  readonly urls: readonly string[];
}

export interface ArtifactPlan {
  /** The module name as lsmod shows it (dashes become underscores). */
  readonly kmodName: string;
  readonly cacheDir: string;
  readonly kmod: Artifact;
  readonly ebpf: Artifact;
  /** `$HOME/.falco/<name>-bpf.o`, the path Falco opens when FALCO_BPF_PROBE is empty. */
  readonly ebpfSymlink: string;
  /** `/usr/src/<name>-<version>`, where packages put the driver sources for DKMS and the bpf Makefile. */
  readonly sourceDir: string;
}

export function planArtifacts(input: PlanInput): ArtifactPlan {
  checkPathPart('kernel release', input.fixedKernelRelease);
  // uname -r never holds whitespace; one in DRIVER_KERNEL_RELEASE/--kernel-release is a typo (issue #8).
  if (/\s/.test(input.fixedKernelRelease)) {
    throw new UserError(
      `Invalid kernel release ${quoted(input.fixedKernelRelease)}: a kernel release, as uname -r prints it, has no spaces`,
    );
  }
  checkPathPart('kernel version', input.fixedKernelVersion);
  checkPathPart('target id', input.targetId);
  checkPathPart('architecture', input.arch);
  const repos = input.repos.map(checkRepo);
  const baseName = `${input.driverName}_${input.targetId}_${input.fixedKernelRelease}_${input.fixedKernelVersion}`;
  const cacheDir = path.join(input.home, '.falco', input.driverVersion, input.arch);
  const artifact = (ext: string): Artifact => {
    const fileName = `${baseName}${ext}`;
    return {
      fileName,
      cachePath: path.join(cacheDir, fileName),
      urls: repos.map((repo) => downloadUrl(repo, input.driverVersion, input.arch, fileName)),
    };
  };
  return {
    kmodName: input.driverName.replaceAll('-', '_'),
    cacheDir,
    kmod: artifact('.ko'),
    ebpf: artifact('.o'),
    ebpfSymlink: path.join(input.home, '.falco', `${input.driverName}-bpf.o`),
    sourceDir: `/usr/src/${input.driverName}-${input.driverVersion}`,
  };
}

/**
 * Every path segment is percent-encoded, so `+` becomes `%2B` (S3 behind download.falco.org reads a raw `+` as a
 * space). The legacy script also rewrote `+` inside the repository URL itself; the repository is used as given.
 */
export function downloadUrl(repo: string, driverVersion: string, arch: string, fileName: string): string {
  const base = repo.replace(/\/+$/, '');
  return [base, driverVersion, arch, fileName].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}

const SCHEMES = new Set(['https:', 'http:', 'file:']);

function checkRepo(repo: string): string {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    throw new UserError(
      `DRIVERS_REPO entry ${quoted(redactUrl(repo))} is not a URL: use https://host/path, http://host/path or file:///path`,
    );
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new UserError(
      `DRIVERS_REPO entry ${quoted(redactUrl(repo))} uses the unsupported scheme ${url.protocol.replace(/:$/, '')}: use https, http or file`,
    );
  }
  if (url.protocol === 'file:' && url.host !== '' && url.host !== 'localhost') {
    throw new UserError(
      `DRIVERS_REPO entry ${quoted(redactUrl(repo))} names a remote host in a file URL: use file:///path`,
    );
  }
  return repo;
}

/** Credentials in a repository URL are accepted and used, but never printed (one implementation: cli/redact.ts). */
export { redactUrl };

function checkPathPart(what: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (value === '' || value === '.' || value === '..' || value.length > 256 || /[/\u0000-\u001f\u007f]/.test(value)) {
    throw new UserError(
      `Invalid ${what} ${quoted(value)}: it becomes part of a file name, so it must be 1-256 characters without '/' or control characters`,
    );
  }
}
