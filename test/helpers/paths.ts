import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
/**
 * shared/ sits beside the checkout, for developers and CI alike; FALCO_DRIVER_LOADER_SHARED points elsewhere (a clone
 * made somewhere else, say). Optional: the tests replay their own copy of the vectors (test/fixtures/vectors) and only
 * check that it still equals shared/'s when shared/ is there.
 */
export const sharedDir = path.resolve(process.env.FALCO_DRIVER_LOADER_SHARED || path.join(repoRoot, '..', 'shared'));
export const bundle = path.join(repoRoot, 'dist', 'falco-driver-loader.cjs');
export const binShim = path.join(repoRoot, 'bin', 'falco-driver-loader');
