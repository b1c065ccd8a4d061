import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
/** shared/ sits beside the checkout, for developers and CI alike. */
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const bundle = path.join(repoRoot, 'dist', 'falco-driver-loader.cjs');
export const binShim = path.join(repoRoot, 'bin', 'falco-driver-loader');
