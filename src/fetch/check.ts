import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CheckOptions {
  readonly insecure: boolean;
  readonly headers: ReadonlyArray<[string, string]>;
  readonly timeoutMs: number;
  /** Where HTTPS_PROXY/HTTP_PROXY/NO_PROXY are read from (main()'s environment, not process.env). */
  readonly env: NodeJS.ProcessEnv;
}

export type CheckResult =
  | { readonly state: 'available'; readonly detail: string }
  | { readonly state: 'not found'; readonly detail: string }
  | { readonly state: 'unreachable'; readonly detail: string };

/**
 * `--dry-run --check`: does the artifact exist at this URL? A HEAD request (a GET of one byte when a server refuses
 * HEAD), redirects followed, short timeouts, proxies from the environment. Nothing is written.
 */
export async function checkUrl(url: string, options: CheckOptions): Promise<CheckResult> {
  if (url.startsWith('file:')) return checkFile(url);
  const { EnvHttpProxyAgent, interceptors, request } = await import('undici');
  const env = options.env;
  const first = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  const dispatcher = new EnvHttpProxyAgent({
    httpProxy: first('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY') ?? '',
    httpsProxy: first('https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY') ?? '',
    noProxy: first('no_proxy', 'NO_PROXY') ?? '',
    connect: { timeout: options.timeoutMs, rejectUnauthorized: !options.insecure },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  }).compose(interceptors.redirect({ maxRedirections: 5 }));
  const headers = Object.fromEntries(options.headers);
  const signal = AbortSignal.timeout(options.timeoutMs * 2);
  try {
    let response = await request(url, { method: 'HEAD', dispatcher, headers, signal });
    await response.body.dump();
    if (response.statusCode === 405 || response.statusCode === 501) {
      response = await request(url, { method: 'GET', dispatcher, headers: { ...headers, range: 'bytes=0-0' }, signal });
      await response.body.dump();
    }
    const code = response.statusCode;
    if (code >= 200 && code < 300) {
      const length = response.headers['content-length'];
      const size = code === 200 && typeof length === 'string' ? `, ${length} bytes` : '';
      return { state: 'available', detail: `HTTP ${code}${size}` };
    }
    if (code === 404 || code === 403 || code === 410) return { state: 'not found', detail: `HTTP ${code}` };
    return { state: 'unreachable', detail: `HTTP ${code}` };
  } catch (error) {
    return { state: 'unreachable', detail: describeNetworkError(error) };
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}

function checkFile(url: string): CheckResult {
  try {
    const stat = statSync(fileURLToPath(url));
    if (stat.isFile()) return { state: 'available', detail: `file, ${stat.size} bytes` };
    return { state: 'not found', detail: 'not a regular file' };
  } catch {
    return { state: 'not found', detail: 'no such file' };
  }
}

export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  const code = (error as Error & { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  const text = cause instanceof Error && cause.message !== '' ? cause.message : error.message;
  return code !== undefined && !text.includes(code) ? `${code}: ${text}` : text;
}
