import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** min/median/max of a series: the only summary the report prints. */
export interface Stats {
  readonly n: number;
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function stats(samples: readonly number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (i: number): number => s[i] ?? Number.NaN;
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
  return { n: s.length, min: at(0), median, max: at(s.length - 1) };
}

export const mapStats = (st: Stats, f: (x: number) => number): Stats => {
  const [a, b] = [f(st.min), f(st.max)];
  return { n: st.n, min: Math.min(a, b), median: f(st.median), max: Math.max(a, b) };
};

/** One child process, exactly as the report runs it. */
export interface Command {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
}

export interface Run {
  /** Wall time from spawn to exit, process.hrtime around spawnSync. */
  readonly ms: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak RSS (ru_maxrss of the child, from GNU time) in KiB, when asked for and available. */
  readonly rssKb: number | undefined;
  readonly error: string | undefined;
}

/** Where GNU time writes ru_maxrss; set when /usr/bin/time exists. */
export interface RssProbe {
  readonly timeBin: string;
  readonly file: string;
}

/**
 * Runs one child to completion and times it. spawnSync blocks this process, which is the point: nothing else of
 * ours runs meanwhile (every server the benchmark needs lives in another process).
 */
export function runTimed(cmd: Command, rss?: RssProbe): Run {
  const [file, args] = rss ? [rss.timeBin, ['-f', '%M', '-o', rss.file, cmd.file, ...cmd.args]] : [cmd.file, cmd.args];
  if (rss) rmSync(rss.file, { force: true });
  const started = process.hrtime.bigint();
  const r = spawnSync(file, args, {
    env: cmd.env,
    encoding: 'utf8',
    timeout: cmd.timeoutMs,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  let error: string | undefined;
  if (r.error) error = r.error.message;
  else if (r.signal) error = `killed by ${r.signal} after ${Math.round(ms)} ms (timeout ${cmd.timeoutMs} ms)`;
  return { ms, code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', rssKb: rss && readRss(rss.file), error };
}

/** GNU time -o: "Command exited with non-zero status N" may come first; %M is the last line. */
function readRss(file: string): number | undefined {
  try {
    const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    return /^\d+$/.test(last) ? Number(last) : undefined;
  } catch {
    return undefined;
  }
}

export interface Line {
  /** Milliseconds since spawn when the line arrived (stdout and stderr are pipes, written synchronously by Node). */
  readonly ms: number;
  readonly stream: 'out' | 'err';
  readonly text: string;
}

export interface LineRun {
  readonly ms: number;
  readonly code: number | null;
  readonly lines: readonly Line[];
  readonly error: string | undefined;
}

/** Runs one child and timestamps each output line as it arrives: when did the flow move on? */
export function runLines(cmd: Command): Promise<LineRun> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const since = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const lines: Line[] = [];
    const child = spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `killed after ${cmd.timeoutMs} ms (timeout)`;
      child.kill('SIGKILL');
    }, cmd.timeoutMs);
    const open: Array<Promise<void>> = [];
    for (const [stream, source] of [
      ['out', child.stdout],
      ['err', child.stderr],
    ] as const) {
      const rl = createInterface({ input: source });
      rl.on('line', (text) => lines.push({ ms: since(), stream, text }));
      open.push(new Promise((done) => rl.on('close', done)));
    }
    child.on('error', (e) => {
      error = e.message;
    });
    child.on('close', async (code) => {
      const ms = since();
      clearTimeout(timer);
      await Promise.all(open);
      resolve({ ms, code, lines, error });
    });
  });
}

/**
 * Runs each command `warmup` times, then `rounds` rounds in which every command runs once, the order rotating per
 * round: drift on a shared machine (another job starting, CPU frequency) then lands on subject and floor alike.
 */
export async function interleaved<T>(
  ids: readonly T[],
  plan: { readonly warmup: number; readonly rounds: number },
  once: (id: T, measured: boolean) => void | Promise<void>,
): Promise<void> {
  for (let i = 0; i < plan.warmup; i++) for (const id of ids) await once(id, false);
  for (let r = 0; r < plan.rounds; r++) {
    for (let i = 0; i < ids.length; i++) await once(ids[(i + r) % ids.length] as T, true);
  }
}
