import { baselineWasmOnly } from '../system/memory.js';

/** undici, loaded on demand (start-up: only downloads and --check pay for it), its parser compiled lean (memory.ts). */
export async function loadUndici(): Promise<typeof import('undici')> {
  baselineWasmOnly();
  return import('undici');
}
