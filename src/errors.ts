/**
 * Errors a user can cause end as one line on stderr and an exit code; anything else is a bug and says so.
 * Shape borrowed from wrangler's UserError + handleError (CONVENTIONS.md).
 */
export class UserError extends Error {
  readonly exitCode: number;
  /** Lines printed on stdout before the error line (the legacy script printed usage after argument errors). */
  readonly stdout: string;

  constructor(message: string, options: { exitCode?: number; stdout?: string } = {}) {
    super(message);
    this.name = 'UserError';
    this.exitCode = options.exitCode ?? 1;
    this.stdout = options.stdout ?? '';
  }
}

export interface Streams {
  out: (text: string) => void;
  err: (text: string) => void;
}

export function handleError(error: unknown, io: Streams): number {
  if (error instanceof UserError) {
    if (error.message !== '') io.err(`${error.message}\n`);
    if (error.stdout !== '') io.out(error.stdout);
    return error.exitCode;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.err(`falco-driver-loader: internal error, please report it with this output:\n${detail}\n`);
  return 1;
}
