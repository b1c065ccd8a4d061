/**
 * The names signing options accept, apart from the code that uses them: settings validation needs these lists at
 * start-up, and importing them from pkcs7.ts/material.ts would load node:crypto for every run (issue #17).
 */
export type HashName = 'sha224' | 'sha256' | 'sha384' | 'sha512';
export const HASHES: readonly HashName[] = ['sha224', 'sha256', 'sha384', 'sha512'];

export type SignTool = 'auto' | 'sign-file' | 'kmodsign' | 'builtin';
export const SIGN_TOOLS: readonly SignTool[] = ['auto', 'sign-file', 'kmodsign', 'builtin'];
