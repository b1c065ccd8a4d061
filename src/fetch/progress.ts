/** Where a progress bar can be drawn: a terminal (process.stderr when it is a TTY), or a test's stand-in. */
export interface Terminal {
  readonly columns?: number;
  write(text: string): unknown;
}

/**
 * A one-line progress bar for a download on a terminal (issue #3); on anything else (CI logs, journald, a pipe)
 * nothing is drawn and the caller's one line per file is all there is. Redrawn at most 10 times a second.
 */
export class ProgressBar {
  private lastDraw = Number.NEGATIVE_INFINITY;
  private shown = false;

  constructor(private readonly terminal: Terminal | undefined) {}

  update(bytes: number, total: number | undefined): void {
    if (this.terminal === undefined) return;
    const now = performance.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const mib = (n: number) => (n / 1048576).toFixed(1);
    let line = `* downloading ${mib(bytes)} MiB`;
    if (total !== undefined && total > 0) {
      const width = Math.max(10, Math.min(40, (this.terminal.columns ?? 80) - 45));
      const fraction = Math.min(1, bytes / total);
      const filled = Math.round(fraction * width);
      const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
      line = `* [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent} ${mib(bytes)}/${mib(total)} MiB`;
    }
    this.terminal.write(`\r${line}\u001b[K`);
    this.shown = true;
  }

  /** Clears the bar so the next line starts clean. */
  done(): void {
    if (this.shown) this.terminal?.write('\r\u001b[K');
    this.shown = false;
  }
}

/** process.stderr when it is a terminal, else nothing. */
export function stderrTerminal(): Terminal | undefined {
  return process.stderr.isTTY ? process.stderr : undefined;
}
