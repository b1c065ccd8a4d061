/**
 * Stands in for `vitest` when the benchmark bundles the test helpers (FakeKernel, moduleFor, closedPort) outside
 * vitest: their afterEach/afterAll clean-ups are collected here and run once, at the end of the benchmark.
 */
type Hook = () => unknown;

const hooks: Hook[] = [];

export function afterEach(hook: Hook): void {
  hooks.push(hook);
}

export const afterAll = afterEach;

export async function runCleanups(): Promise<void> {
  for (const hook of hooks.splice(0).reverse()) await hook();
}
