import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { aborted, describe, Failure, httpFailure, networkFailure, scrub, seconds, tooLarge } from './failure.js';
import { ProgressBar, stderrTerminal, type Terminal } from './progress.js';
import { type Counter, publish, writeTemp } from './tempFile.js';
import type { DownloadRequest, DownloadResult, DownloadSettings, Received } from './types.js';
import { loadUndici } from './undici.js';

/** What a caller may add beyond the contract; tests turn the timings down. */
export interface DownloadOptions {
  /** Where HTTP(S)_PROXY/ALL_PROXY/NO_PROXY come from: main()'s env, which is not always process.env. */
  readonly env: NodeJS.ProcessEnv;
  /** First retry delay, doubled on each retry like curl's (1 s, 2 s, 4 s…). */
  readonly backoffMs: number;
  /**
   * No response or no body bytes for this long fails the attempt (and it is retried). curl had no such limit and
   * relied on --max-time; a mirror that stalls should not eat the whole budget (falco#2334). Capped by maxTimeMs.
   */
  readonly idleTimeoutMs: number;
  /** Where the progress bar is drawn: stderr when it is a terminal, else no bar (a line per file is enough). */
  readonly terminal: Terminal | undefined;
}

const DEFAULT_OPTIONS: DownloadOptions = {
  env: process.env,
  backoffMs: 1000,
  idleTimeoutMs: 30_000,
  terminal: stderrTerminal(),
};
const MAX_REDIRECTS = 10;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
/** setTimeout's ceiling; "no limit" (curl's 0, stored as Infinity) becomes this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Job {
  readonly request: DownloadRequest;
  readonly settings: DownloadSettings;
  readonly options: DownloadOptions;
  /** The caller's signal and the maxTime deadline together. */
  readonly signal: AbortSignal;
  readonly deadline: AbortSignal;
  readonly started: number;
  readonly bar: ProgressBar;
}

interface Progress extends Counter {
  phase: 'response' | 'body';
  expected: number | undefined;
}

/**
 * Fetches one file the way the legacy `curl -fsSL --connect-timeout 5 --max-time 60 --retry 3 --retry-max-time 120`
 * did (legacy-loader.md §B.1.6, §B.6.3), but never leaves a partial or rejected file at `destination`.
 */
export async function download(
  request: DownloadRequest,
  settings: DownloadSettings,
  options: Partial<DownloadOptions> = {},
): Promise<DownloadResult> {
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timerMs(settings.maxTimeMs));
  const signal = request.signal ? AbortSignal.any([request.signal, deadline.signal]) : deadline.signal;
  const merged = { ...DEFAULT_OPTIONS, ...options };
  const job: Job = {
    request,
    settings,
    options: merged,
    signal,
    deadline: deadline.signal,
    started,
    bar: new ProgressBar(merged.terminal),
  };
  try {
    if (request.signal?.aborted) throw aborted();
    const scheme = URL.canParse(request.url) ? new URL(request.url).protocol : '';
    if (!['http:', 'https:', 'file:'].includes(scheme)) {
      throw new Failure('network', `cannot download ${request.url}: use an http, https or file URL`);
    }
    const dir = path.dirname(request.destination);
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw new Failure('io', `cannot create ${dir}: ${describe(error)}`);
    });
    const got = scheme === 'file:' ? await copyLocal(job) : await fetchWithRetries(job);
    job.bar.done();
    request.log(`* Downloaded ${got.bytes} bytes in ${seconds(performance.now() - started)} s`);
    return { ok: true, bytes: got.bytes, ...(got.sha256 === undefined ? {} : { sha256: got.sha256 }) };
  } catch (error) {
    job.bar.done();
    const failure = classify(error, job);
    return { ok: false, kind: failure.kind, reason: scrub(failure.message) };
  } finally {
    clearTimeout(timer);
  }
}

/** The caller's abort wins over everything, then the overall deadline, then what actually failed. */
function classify(error: unknown, job: Job): Failure {
  if (job.request.signal?.aborted) return aborted();
  if (error instanceof Failure) return error;
  if (job.deadline.aborted) {
    return new Failure('timeout', `gave up after ${seconds(performance.now() - job.started)} s (maximum time)`);
  }
  return networkFailure(error, job.settings.connectTimeoutMs);
}

async function fetchWithRetries(job: Job): Promise<Received> {
  const { settings, options, request } = job;
  const undici = await loadUndici();
  // SSL_CERT_FILE, as OpenSSL-based curl read it (issue #13: the README promised it); --cacert wins over it.
  const caFile = settings.caFile ?? (options.env.SSL_CERT_FILE || undefined);
  const tls = { rejectUnauthorized: !settings.insecure, ...(await caOption(caFile)) };
  for (let attempt = 0; ; attempt++) {
    // A fresh client per attempt: destroying it is the only sure way to stop a wedged proxy connection.
    const dispatcher = makeDispatcher(undici, job, tls);
    const delay = options.backoffMs * 2 ** attempt;
    try {
      return await attemptOnce(undici.request, dispatcher, job);
    } catch (error) {
      const failure = classify(error, job);
      const after = performance.now() - job.started + delay;
      const left = settings.retries - attempt;
      if (!failure.retry || left <= 0 || after >= timerMs(settings.maxTimeMs) || after > settings.retryMaxTimeMs) {
        throw failure;
      }
      const retries = `${left} ${left === 1 ? 'retry' : 'retries'} left`;
      job.bar.done();
      request.log(`* ${scrub(failure.message)}; retrying in ${seconds(delay)} s (${retries})`);
    } finally {
      dispatcher.destroy().catch(() => undefined);
    }
    await sleep(delay, undefined, { signal: job.signal });
  }
}

/** One attempt: follow redirects by hand (loop detection, no credentials to other origins), then stream the body. */
async function attemptOnce(send: typeof import('undici').request, dispatcher: Dispatcher, job: Job): Promise<Received> {
  const idleMs = Math.min(job.options.idleTimeoutMs, timerMs(job.settings.maxTimeMs));
  const watchdog = new Watchdog(idleMs);
  const signal = AbortSignal.any([job.signal, watchdog.signal]);
  const { url: first, auth } = splitCredentials(job.request.url);
  const headers = baseHeaders(job.settings, auth);
  const progress: Progress = { phase: 'response', bytes: 0, expected: undefined };
  const seen = new Set([first.href]);
  let url = first;
  try {
    for (let hops = 0; ; hops++) {
      // curl -L without --location-trusted: credentials stay with the origin they were given for, and so do the
      // custom headers (--http-headers, curl -H), which are as often secrets (PRIVATE-TOKEN) (issue #13).
      const hopHeaders = url.origin === first.origin ? headers : { 'user-agent': headers['user-agent'] as string };
      // undici 7 crashes (assert(!this.paused), nodejs/undici#5360) when a server closes the connection right after
      // the body while its parser is paused for backpressure. A buffer as large as any accepted body never asks it to
      // pause; memory still stays flat because tempFile.ts writes each chunk synchronously as it arrives.
      const response = await untilAborted(
        send(url.href, { dispatcher, headers: hopHeaders, signal, highWaterMark: job.settings.maxBytes }),
        signal,
      );
      watchdog.kick();
      const code = response.statusCode;
      if (code >= 200 && code < 300) return await receive(response, job, watchdog, progress);
      await response.body.dump({ limit: 65_536, signal }).catch(() => undefined);
      const location = response.headers.location;
      if (!REDIRECT_CODES.has(code) || typeof location !== 'string') throw httpFailure(code);
      if (hops >= MAX_REDIRECTS) throw new Failure('http', `too many redirects (more than ${MAX_REDIRECTS})`);
      const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
      if (next === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
        throw new Failure('http', `HTTP ${code} redirect to an unusable location from ${url.host}`);
      }
      // A module protected only by TLS must not arrive over plain HTTP (issue #13); insecure says TLS may go.
      if (url.protocol === 'https:' && next.protocol === 'http:' && !job.settings.insecure) {
        throw new Failure(
          'http',
          `refusing the redirect from https to plain http (${next.host}): use an https location`,
        );
      }
      if (seen.has(next.href))
        throw new Failure('http', `redirect loop: ${next.origin}${next.pathname} redirects back`);
      seen.add(next.href);
      url = next;
    }
  } catch (error) {
    if (error instanceof Failure || job.signal.aborted) throw error;
    const { bytes, expected } = progress;
    if (watchdog.fired && progress.phase === 'response') {
      throw new Failure('timeout', `no response from ${url.host} within ${seconds(idleMs)} s`, true);
    }
    if (watchdog.fired) {
      throw new Failure('timeout', `no data from ${url.host} for ${seconds(idleMs)} s after ${bytes} bytes`, true);
    }
    if (progress.phase === 'body') {
      const of = expected === undefined ? '' : ` of ${expected}`;
      throw new Failure('network', `connection closed after ${bytes}${of} bytes (${describe(error)})`, true);
    }
    throw error;
  } finally {
    watchdog.stop();
  }
}

/** undici ignores the signal while a proxy CONNECT hangs or loops (nodejs/undici#3897); this race does not. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    const settle = (done: () => void) => {
      signal.removeEventListener('abort', onAbort);
      done();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
    if (signal.aborted) onAbort();
  });
}

async function receive(
  response: Dispatcher.ResponseData,
  job: Job,
  watchdog: Watchdog,
  progress: Progress,
): Promise<Received> {
  const { maxBytes } = job.settings;
  const length = response.headers['content-length'];
  progress.expected = typeof length === 'string' && /^\d+$/.test(length) ? Number(length) : undefined;
  if (progress.expected !== undefined && progress.expected > maxBytes) {
    // undici's body emits an AbortError when destroyed; unheard, it crashed the CLI with a stack trace (issue #8).
    response.body.on('error', () => undefined);
    response.body.destroy();
    throw tooLarge(`the server announced ${progress.expected} bytes`, maxBytes);
  }
  progress.phase = 'body';
  const temp = await writeTemp(job.request, maxBytes, response.body, progress, () => {
    watchdog.kick();
    job.bar.update(progress.bytes, progress.expected);
  });
  watchdog.stop(); // validate() may take its time; only the caller's signal still applies
  if (progress.expected !== undefined && progress.bytes !== progress.expected) {
    await rm(temp, { force: true });
    throw new Failure('network', `connection closed after ${progress.bytes} of ${progress.expected} bytes`, true);
  }
  const received = { bytes: progress.bytes, sha256: progress.sha256 };
  await publish(temp, job.request, received);
  return received;
}

/** file:// mirrors (air-gapped sites): the same temp file, validation and rename as a download. */
async function copyLocal(job: Job): Promise<Received> {
  let source: string;
  try {
    source = fileURLToPath(job.request.url); // decodes %2B to '+', as curl did
  } catch (error) {
    throw new Failure('not-found', `unusable file URL: ${describe(error)}`);
  }
  const info = await stat(source).catch((error: unknown) => {
    if ((error as { code?: string }).code === 'ENOENT') throw new Failure('not-found', `no such file ${source}`);
    // The repository's side, like a network error for http: 'io' means the cache cannot be written (types.ts).
    throw new Failure('network', `cannot read ${source}: ${describe(error)}`);
  });
  if (!info.isFile()) throw new Failure('not-found', `${source} is not a regular file`);
  const { maxBytes } = job.settings;
  if (info.size > maxBytes) throw tooLarge(`${source} has ${info.size} bytes`, maxBytes);
  const counter: Counter = { bytes: 0 };
  const chunks = createReadStream(source, { signal: job.signal });
  const temp = await writeTemp(job.request, maxBytes, chunks, counter, () => undefined);
  const received = { bytes: counter.bytes, sha256: counter.sha256 };
  await publish(temp, job.request, received);
  return received;
}

function makeDispatcher(undici: typeof import('undici'), job: Job, tls: TlsOptions): Dispatcher {
  const { settings, options } = job;
  const timeout = timerMs(settings.connectTimeoutMs);
  const fromEnv = (...names: string[]) => withScheme(names.map((n) => options.env[n]).find((v) => v) ?? '');
  const explicit = settings.proxy === undefined ? undefined : withScheme(settings.proxy);
  // EnvHttpProxyAgent for the explicit proxy too, so NO_PROXY still applies to it, as it did for curl -x.
  return new undici.EnvHttpProxyAgent({
    httpProxy: explicit ?? fromEnv('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'),
    httpsProxy: explicit ?? fromEnv('https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'),
    noProxy: options.env.no_proxy || options.env.NO_PROXY || '',
    connect: { ...tls, timeout },
    requestTls: { ...tls, timeout }, // TLS to the server through a CONNECT tunnel
    proxyTls: { timeout },
    proxyTunnel: false, // plain http:// goes through the proxy as an absolute-URI GET, like curl
    ...(settings.proxyUser === undefined ? {} : { token: basic(settings.proxyUser) }),
  });
}

interface TlsOptions {
  readonly rejectUnauthorized: boolean;
  readonly ca?: string[];
}

/** `ca` replaces Node's trust store, so the bundled roots and NODE_EXTRA_CA_CERTS are passed along with the file. */
async function caOption(caFile: string | undefined): Promise<{ ca?: string[] }> {
  if (caFile === undefined) return {};
  const { rootCertificates } = await import('node:tls');
  const pem = await readFile(caFile, 'utf8').catch((error: unknown) => {
    throw new Failure('io', `cannot read the CA file ${caFile}: ${describe(error)}`);
  });
  const extraFile = process.env.NODE_EXTRA_CA_CERTS;
  const extra = extraFile ? await readFile(extraFile, 'utf8').catch(() => undefined) : undefined;
  return { ca: [...rootCertificates, ...(extra === undefined ? [] : [extra]), pem] };
}

function baseHeaders(settings: DownloadSettings, urlAuth: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'falco-driver-loader' };
  const auth = settings.user ?? urlAuth; // curl: -u wins over user:password@ in the URL
  if (auth !== undefined) headers.authorization = basic(auth);
  for (const [name, value] of settings.headers) {
    const key = name.toLowerCase();
    const prior = key === 'user-agent' || key === 'authorization' ? undefined : headers[key];
    headers[key] = prior === undefined ? value : `${prior}, ${value}`;
  }
  return headers;
}

/** undici ignores user:password@ in a URL; curl sent it as Basic auth. */
function splitCredentials(text: string): { url: URL; auth: string | undefined } {
  const url = new URL(text);
  if (url.username === '' && url.password === '') return { url, auth: undefined };
  const auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url, auth };
}

/** Resets on every sign of life; fires when the peer has been silent for `ms`. */
class Watchdog {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  constructor(ms: number) {
    this.#timer = setTimeout(() => this.#controller.abort(), ms);
  }
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  get fired(): boolean {
    return this.#controller.signal.aborted;
  }
  kick(): void {
    this.#timer.refresh();
  }
  stop(): void {
    clearTimeout(this.#timer);
  }
}

const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;
const withScheme = (proxy: string): string => (proxy === '' || proxy.includes('://') ? proxy : `http://${proxy}`);
const timerMs = (ms: number): number => (Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_TIMER_MS) : MAX_TIMER_MS);
