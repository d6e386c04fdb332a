import { defineConfig } from 'vitest/config';

// CI asks for a JSON report too (.ci/run prints a one-line summary from it).
const report = process.env.MAILWATCH_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
