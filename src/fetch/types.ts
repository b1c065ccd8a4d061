/**
 * The download contract shared by the kernel-module flow (issue #3), the eBPF flow (issue #4) and kernel-source
 * downloads. Implemented in fetch/download.ts (undici, loaded lazily).
 */
export interface DownloadSettings {
  /** Turn certificate checks off (DRIVER_INSECURE_DOWNLOAD, --http-insecure, curl -k). */
  readonly insecure: boolean;
  /** Extra request headers (--http-headers, FALCOCTL_DRIVER_HTTP_HEADERS, curl -H). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Per-connection connect timeout (curl --connect-timeout; default 5 s). */
  readonly connectTimeoutMs: number;
  /** Overall limit for one file, all retries included (curl -m/--max-time; default 60 s). */
  readonly maxTimeMs: number;
  /** Retries on connection errors and 5xx, never on 4xx (curl --retry; default 3). */
  readonly retries: number;
  /** Cap on the time spent retrying (curl --retry-max-time; default 120 s). */
  readonly retryMaxTimeMs: number;
  /** Largest body accepted, in bytes; past it the download fails (documented default in README). */
  readonly maxBytes: number;
  /** PEM file with extra CA certificates (curl --cacert); NODE_EXTRA_CA_CERTS is honoured by Node itself. */
  readonly caFile: string | undefined;
  /** Explicit proxy (curl -x); otherwise HTTPS_PROXY/HTTP_PROXY/NO_PROXY from the environment, either case. */
  readonly proxy: string | undefined;
  /** `user:password` for the proxy (curl -U). */
  readonly proxyUser: string | undefined;
  /** `user:password` for the server (curl -u), sent as Basic auth. */
  readonly user: string | undefined;
}

/**
 * 'io' is local: the destination cannot be written (its directory, the temp file, a full disk, the rename) or the CA
 * file cannot be read. Every repository would fail the same way, so the flows stop trying repositories on it.
 */
export type DownloadFailureKind = 'not-found' | 'http' | 'network' | 'timeout' | 'too-large' | 'invalid' | 'io';

export type DownloadResult =
  | {
      readonly ok: true;
      readonly bytes: number;
      /** Hex SHA-256 of the bytes as they arrived (one pass, no re-read): present when the request asked for it. */
      readonly sha256?: string;
    }
  | {
      readonly ok: false;
      readonly kind: DownloadFailureKind;
      /** One line for the user, e.g. "HTTP 404 Not Found" or "connection refused by 127.0.0.1:8080". */
      readonly reason: string;
    };

/** What was written to the temp file, known without reading it back. */
export interface Received {
  readonly bytes: number;
  /** Hex SHA-256 of the body, when the request set `digest: 'sha256'`. */
  readonly sha256: string | undefined;
}

export interface DownloadRequest {
  /** http(s):// or file:// URL. */
  readonly url: string;
  /** Final path; the body goes to a temp file beside it and is renamed into place only when complete and valid. */
  readonly destination: string;
  /**
   * Called with the complete temp file before it is renamed into place. Returns undefined when the file is
   * acceptable, or one line saying why not (the temp file is then removed and the result is 'invalid').
   */
  readonly validate?: (tempPath: string, received: Received) => Promise<string | undefined>;
  /**
   * 'sha256': hash the body while it arrives and give the digest to validate() and in the result (e.g. to compare
   * with a SHA256SUMS entry). Off by default: hashing costs about as much CPU as the transfer itself over loopback.
   */
  readonly digest?: 'sha256';
  /** Progress/one-line-per-file output goes here (stderr in the CLI). */
  readonly log: (line: string) => void;
  /** Aborts the download (SIGINT/SIGTERM); the temp file is removed. */
  readonly signal?: AbortSignal;
}
