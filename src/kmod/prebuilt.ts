import { existsSync, rmSync } from 'node:fs';
import { redactUrl } from '../artifact/plan.js';
import { filenameBlock, kmodMsg, kmodNote } from '../cli/messages.js';
import type { DownloadResult, DownloadSettings } from '../fetch/types.js';
import { notRegularFile } from '../system/fsCheck.js';
import { insmod } from './insmod.js';
import { expectation, type KmodSession, say, warn } from './session.js';
import { checkModuleFile } from './verify.js';

/**
 * §B.6.2: the module already in `$HOME/.falco/<driver version>/<arch>/`. Unlike legacy (§B.12.3), a cached file that
 * is not a module for this kernel, or that insmod refuses, is removed and the next source is tried instead of
 * failing every run from now on.
 */
export async function loadCached(s: KmodSession): Promise<boolean> {
  const { plan, host, settings } = s.ctx;
  const name = settings.driverName.value;
  say(s, kmodMsg.lookingLocally(name, host.target.fixedKernelRelease));
  say(
    s,
    filenameBlock({
      fileName: plan.kmod.fileName,
      driverName: name,
      targetId: host.target.targetId,
      kernelRelease: host.target.fixedKernelRelease,
      kernelVersion: host.target.fixedKernelVersion,
    }),
  );
  const file = plan.kmod.cachePath;
  const odd = notRegularFile(file);
  if (odd !== undefined) {
    rmSync(file, { recursive: true, force: true });
    warn(s, kmodNote.cachedRejected(name, file, odd));
    return false;
  }
  if (!existsSync(file)) return false;
  say(s, kmodMsg.foundCached(name, file));
  const why = await checkModuleFile(file, expectation(s), undefined);
  if (why !== undefined) {
    rmSync(file, { force: true });
    warn(s, kmodNote.cachedRejected(name, file, why));
    return false;
  }
  const result = await insmod(s, file);
  if (result.loaded) {
    say(s, kmodMsg.inserted(name));
    return true;
  }
  if (result.fileBlamed) {
    rmSync(file, { force: true });
    warn(s, kmodNote.cachedInsmodFailed(name, file));
  }
  return false;
}

/**
 * §B.6.3: each repository in order. The file is checked before it reaches the cache (download()'s validate hook),
 * so an error page or a module for another kernel is never kept; a module insmod refuses is removed (§B.12.4).
 */
export async function downloadAndLoad(s: KmodSession): Promise<boolean> {
  const { plan, settings } = s.ctx;
  const name = settings.driverName.value;
  if (plan.kmod.urls.length === 0) return false;
  const fetcher = await downloader(s);
  for (const url of plan.kmod.urls) {
    s.signal.throwIfAborted();
    say(s, kmodMsg.tryingDownload(name, redactUrl(url)));
    const downloaded = await fetcher(url);
    s.signal.throwIfAborted(); // interrupted: no "Download failed" line, no next source
    if (!downloaded.ok) {
      warn(s, kmodNote.downloadRejected(downloaded.reason));
      warn(s, kmodMsg.notDownloaded(name));
      // The cache cannot be written (HOME unwritable, a file where a directory should be, a full disk): every
      // repository would fail the same way, so the next source is the build (issue #8).
      if (downloaded.kind === 'io') return false;
      continue;
    }
    say(s, kmodMsg.downloadSucceeded);
    const result = await insmod(s, plan.kmod.cachePath);
    if (result.loaded) {
      say(s, kmodMsg.inserted(name));
      return true;
    }
    warn(s, kmodMsg.prebuiltInsmodFailed(name));
    if (result.fileBlamed) {
      rmSync(plan.kmod.cachePath, { force: true });
      say(s, kmodNote.removedFromCache(plan.kmod.cachePath));
    }
  }
  return false;
}

/**
 * The HTTP client is loaded only when a download is really attempted (start-up time, CONVENTIONS.md). Its failure
 * reasons are already one line with credentials scrubbed; proxies come from the run's environment.
 */
async function downloader(s: KmodSession): Promise<(url: string) => Promise<DownloadResult>> {
  const [{ downloadVerified }, { downloadSettingsFrom }] = await Promise.all([
    import('../fetch/checksums.js'),
    import('../fetch/settings.js'),
  ]);
  const settings: DownloadSettings = downloadSettingsFrom(s.ctx.settings, s.ctx.env, (line) => warn(s, line));
  const destination = s.ctx.plan.kmod.cachePath;
  // Issue 19: a SHA256SUMS beside the file, when the repository serves one (or always, when required), vouches for it.
  const policy = { required: s.ctx.settings.requireChecksum.value, tmpdir: s.ctx.settings.tmpdir };
  return (url) =>
    downloadVerified(
      {
        url,
        destination,
        validate: (tempPath) => checkModuleFile(tempPath, expectation(s), undefined),
        log: (line) => warn(s, line.replace(/\n$/, '')),
        signal: s.signal,
      },
      settings,
      { env: s.ctx.env },
      policy,
    );
}
