import { defineConfig } from 'vitest/config';

// The real-falcoctl checks (`npm run test:falcoctl`, run by test/falcoctl-real/run.sh): kept out of `npm test`,
// which must pass on a machine without Go, and whose unit tests read the fixtures these checks keep honest.
export default defineConfig({
  test: {
    root: `${import.meta.dirname}/../..`,
    include: ['test/falcoctl-real/**/*.real.ts'],
    globalSetup: ['test/helpers/globalSetup.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'falcoctl-results.json' },
    testTimeout: 120_000,
    // Each check starts a 40-90 MB static binary; two at a time is what 2 shared cores take.
    maxWorkers: 2,
  },
});
