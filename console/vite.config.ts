import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string =>
  fileURLToPath(new URL(path, import.meta.url));

// Served by the API server at /console (src/web-console/serve-console.ts),
// which reads the build from console/dist: outside the top-level dist/, which
// every `nest build` (npm run cli, openapi, …) deletes, so a running server
// keeps its console.
export default defineConfig({
  root: here('.'),
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // One small app: a single chunk keeps the page to three requests.
    chunkSizeWarningLimit: 200,
  },
});
