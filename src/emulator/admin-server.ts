import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventHubsEmulator } from './emulator.js';
import { InvalidFaultError, type FaultSpec } from './faults.js';

/**
 * Loopback-only JSON admin endpoint for the CLI mode, where tests in another process cannot reach
 * the in-process API:
 *   GET  /hubs                 hubs with partition properties
 *   POST /hubs                 {name, partitionCount?, consumerGroups?}
 *   GET  /faults               {pending, fired}
 *   POST /faults               a FaultSpec (count null = always)
 *   POST /reset                drop all events and faults
 *   GET  /stats                counters
 */
export async function startAdminServer(
  emulator: EventHubsEmulator,
  port: number,
  host = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void handle(emulator, req)
      .then(([status, body]) => send(res, status, body))
      .catch((err: unknown) => {
        const status =
          err instanceof InvalidFaultError || err instanceof SyntaxError
            ? 400
            : 500;
        send(res, status, { error: (err as Error).message });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, null, 2));
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as unknown);
}

async function handle(
  emulator: EventHubsEmulator,
  req: http.IncomingMessage,
): Promise<[number, unknown]> {
  const path =
    new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') ||
    '/';
  const route = `${req.method ?? 'GET'} ${path}`;
  switch (route) {
    case 'GET /hubs':
      return [
        200,
        emulator.listHubs().map((hub) => ({
          ...hub,
          partitions: hub.partitionIds.map((id) =>
            emulator.partitionProperties(hub.name, id),
          ),
        })),
      ];
    case 'POST /hubs': {
      const body = (await readJson(req)) as {
        name?: string;
        partitionCount?: number;
        consumerGroups?: string[];
      };
      if (typeof body.name !== 'string')
        throw new InvalidFaultError('name is required');
      return [201, emulator.addHub({ ...body, name: body.name })];
    }
    case 'GET /faults':
      return [
        200,
        { pending: emulator.faults.pending(), fired: emulator.faults.fired() },
      ];
    case 'POST /faults': {
      const spec = (await readJson(req)) as FaultSpec & {
        count?: number | null;
      };
      if ('count' in spec && spec.count === null) spec.count = Infinity;
      const record = emulator.faults.add(spec);
      return [
        201,
        {
          ...record,
          remaining: Number.isFinite(record.remaining)
            ? record.remaining
            : null,
        },
      ];
    }
    case 'POST /reset':
      emulator.reset();
      return [200, { ok: true }];
    case 'GET /stats':
      return [200, emulator.stats()];
    default:
      return [404, { error: `no route ${route}` }];
  }
}
