import { redactText } from '../cli/redact.js';
import type { DownloadFailureKind } from './types.js';

/** Carries a classified failure up through the retry loop; `retry` says whether another attempt may help. */
export class Failure extends Error {
  constructor(
    readonly kind: DownloadFailureKind,
    reason: string,
    readonly retry = false,
  ) {
    super(reason);
  }
}

export const aborted = (): Failure => new Failure('network', 'download aborted');

/**
 * What went wrong below HTTP, in one line. Connection refusals, connect timeouts and dropped connections are
 * retried (a mirror restarting); a name that does not resolve, a certificate that does not verify and a proxy that
 * refuses us will not change within a minute, so they are not (curl did not retry them either).
 */
export function networkFailure(error: unknown, connectTimeoutMs: number): Failure {
  const e = error as { code?: string; address?: string; port?: number; hostname?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (code === 'ECONNREFUSED') {
    const where = e.address === undefined ? '' : ` by ${e.address}${e.port === undefined ? '' : `:${e.port}`}`;
    return new Failure('network', `connection refused${where}`, true);
  }
  if (code === 'ENOTFOUND') return new Failure('network', `could not resolve host ${e.hostname ?? ''}`.trim());
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new Failure('timeout', `connect timed out after ${seconds(connectTimeoutMs)} s`, true);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return new Failure(
      'network',
      `TLS certificate problem: ${describe(error)} (trust its CA with --cacert in DRIVER_CURL_OPTIONS or NODE_EXTRA_CA_CERTS)`,
    );
  }
  if (error instanceof Error && /proxy/i.test(error.message)) {
    // undici says "Proxy response (407) !== 200 when HTTP Tunneling": name the status and, for 407, the fix (issue #8).
    const status = /\((\d{3})\)/.exec(error.message)?.[1];
    if (status === undefined) return new Failure('network', `proxy error: ${error.message}`);
    const hint =
      status === '407' ? ': give it user:password@ in HTTPS_PROXY/HTTP_PROXY, or -U in DRIVER_CURL_OPTIONS' : '';
    return new Failure('network', `proxy error: the proxy answered ${httpFailure(Number(status)).message}${hint}`);
  }
  return new Failure('network', describe(error), true);
}

/** 404/410 mean "no such driver here" (try the next repo or build); 5xx may pass; other codes will not. */
export function httpFailure(code: number): Failure {
  const text = `HTTP ${code} ${HTTP_REASONS[code] ?? ''}`.trim();
  if (code === 404 || code === 410) return new Failure('not-found', text);
  return new Failure('http', text, code >= 500);
}

const HTTP_REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  410: 'Gone',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function tooLarge(what: string, limit: number): Failure {
  return new Failure(
    'too-large',
    `${what}, more than the limit of ${limit} bytes (FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES)`,
  );
}

export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code, syscall } = error as { code?: string; syscall?: string };
  // fs errors end with ", mkdir '/the/path'" or ", write": every message here names the path and the step already.
  const message = syscall === undefined ? error.message : error.message.replace(/, \w+( '[^']*'( -> '[^']*')?)?$/, '');
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

export const seconds = (ms: number): string => (ms / 1000).toFixed(1).replace(/\.0$/, '');

/** One line, and never the user:password@ of any URL an error message may quote (cli/redact.ts decides). */
export const scrub = (reason: string): string => redactText(reason).replace(/\s*\n\s*/g, ' ');
