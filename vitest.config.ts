import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration and e2e tests start HTTPS servers and child processes; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Test files run side by side: vitest's default on 2 cores is one worker (cores - 1), which left the machine half
    // idle while e2e files waited on child processes and the sandbox's simulated delays. Files share nothing on the
    // machine but its tmux server, whose session names carry the worker's pid.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
