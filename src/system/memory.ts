import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Issue #17: peak RSS that stays flat with the module's size. Two V8 defaults cost most of it during a download,
 * measured on a 256 MiB body (README "Performance"):
 * - each socket read is a fresh 64 KiB buffer; dead ones are freed only when V8 next collects, which external memory
 *   triggers late (~30 MB of garbage at the peak). A young-generation collection every few MiB frees them at once.
 * - TurboFan's background compile of undici's HTTP parser (llhttp, WebAssembly) peaks at ~35 MB; Liftoff's baseline
 *   code parses as fast here, because the body passes through the parser as spans.
 */
let collect: ((options: { type: 'minor' }) => void) | undefined;

export function collectYoungGarbage(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as typeof collect;
  }
  collect?.({ type: 'minor' });
}

/** Before the first WebAssembly module is compiled (undici compiles llhttp on its first connection). */
export function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}
