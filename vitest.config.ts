import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each test file boots its own Crier against its own database; two at a time suits 2 cores.
    maxWorkers: 2,
    // The JSON report is what .ci/run counts.
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
});
