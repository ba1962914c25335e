import type { INestApplication } from '@nestjs/common';
import express, { type Request, type Response } from 'express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONSOLE_PATH = '/console';

/** The repository root: the nearest folder above this file with a package.json (src/ under Vitest, dist/src/ when built). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the app');
    dir = up;
  }
  return dir;
}

/** Where `npm run build` (vite, console/vite.config.ts) writes the console. */
function consoleDir(): string {
  return join(projectRoot(), 'console', 'dist');
}

/**
 * The console's pages talk only to the public API of this origin; the
 * policy keeps anything else (inline scripts, other hosts, framing) out.
 * uPlot sizes its canvas with inline styles, hence style-src 'unsafe-inline'.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

function securityHeaders(res: Response): void {
  res.setHeader('content-security-policy', CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
}

/**
 * Serves the built console at /console from the same server as the API (no
 * second server). Pages route with the URL fragment, so only the files
 * themselves are served. Hashed assets are cached for good, index.html never.
 */
export function serveConsole(app: INestApplication): void {
  const dir = consoleDir();
  const files = express.static(dir, {
    index: 'index.html',
    redirect: true,
    fallthrough: true,
    setHeaders: (res, path) => {
      securityHeaders(res);
      res.setHeader(
        'cache-control',
        path.endsWith('.html')
          ? 'no-cache'
          : 'public, max-age=31536000, immutable',
      );
    },
  });
  app.use(CONSOLE_PATH, files, (_req: Request, res: Response) => {
    securityHeaders(res);
    res
      .status(404)
      .type('text/plain')
      .send(
        existsSync(join(dir, 'index.html'))
          ? 'Not found.\n'
          : 'The console is not built: run `npm run build` (npm start and npm test build it).\n',
      );
  });
}
