import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string =>
  fileURLToPath(new URL(path, import.meta.url));

// Served by the API server at /console (src/web-console/serve-console.ts),
// which reads the build from dist/console.
export default defineConfig({
  root: here('.'),
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // One small app: a single chunk keeps the page to three requests.
    chunkSizeWarningLimit: 200,
  },
});
