import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { tsconfigPaths: true },
  test: {
    globals: true,
    root: './',
    include: [
      'src/**/*.spec.ts',
      'test/**/*.e2e-spec.ts',
      // The console in headless Chromium (test/console/browser.ts).
      'test/console/**/*.browser-spec.ts',
    ],
    exclude: [...configDefaults.exclude],
    globalSetup: ['./test/global-setup.ts'],
    hookTimeout: 120_000,
    testTimeout: 60_000,
    pool: 'forks',
    // Runner tests start replicas that claim any tenant's flows from the shared
    // database; running files one at a time keeps their assertions about
    // who exported what exact.
    fileParallelism: false,
  },
});
