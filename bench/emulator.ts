import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type EventData,
} from '@azure/event-hubs';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EventHubsEmulator } from '../src/emulator/emulator.js';

const EVENTS = 100_000;
const BODY_BYTES = 500;
const PARTITIONS = 4;
const CONCURRENT_SENDS = 4;
const HUB = 'bench';

type ChildMessage =
  | { type: 'ready'; connectionString: string }
  | {
      type: 'memory';
      rss: number;
      peakRss: number;
      heapUsed: number;
      external: number;
      cpuMs: number;
    };

/**
 * The emulator runs in a child process, as in the reference measurements, so the SDK's CPU and
 * memory do not blur the server's numbers.
 */
async function runChild(): Promise<void> {
  const emulator = new EventHubsEmulator({
    port: 0,
    hubs: [{ name: HUB, partitionCount: PARTITIONS }],
  });
  await emulator.start();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  const send = (m: ChildMessage): void => {
    process.send?.(m);
  };
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'memory') {
      global.gc?.();
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      const cpu = process.cpuUsage();
      send({
        type: 'memory',
        rss: m.rss,
        peakRss,
        heapUsed: m.heapUsed,
        external: m.external,
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
    } else if (msg.type === 'stop') {
      clearInterval(sampler);
      void emulator.stop().then(() => process.disconnect());
    }
  });
  send({ type: 'ready', connectionString: emulator.connectionString() });
}

function request<T extends ChildMessage['type']>(
  child: ChildProcess,
  type: T,
  send?: string,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve) => {
    const onMessage = (m: ChildMessage): void => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      resolve(m as Extract<ChildMessage, { type: T }>);
    };
    child.on('message', onMessage);
    if (send) child.send({ type: send });
  });
}

const mib = (n: number): number => Math.round((n / 1024 / 1024) * 10) / 10;

export async function runEmulatorBench(): Promise<void> {
  // This module's own file: under `bench/main.js` argv[1] is the dispatcher,
  // which would start the benchmark again instead of the emulator child.
  const script = fileURLToPath(import.meta.url);
  const child = fork(script, [], {
    env: { ...process.env, EMULATOR_BENCH_CHILD: '1' },
    execArgv: ['--expose-gc'],
  });
  try {
    const { connectionString } = await request(child, 'ready');
    const before = await request(child, 'memory', 'memory');

    const producer = new EventHubProducerClient(connectionString, HUB);
    const consumer = new EventHubConsumerClient(
      '$default',
      connectionString,
      HUB,
    );
    try {
      await producer.getPartitionIds();
      const filler = 'x'.repeat(BODY_BYTES - 60);
      const events: EventData[] = Array.from({ length: EVENTS }, (_, i) => ({
        body: { id: i, ts: 1_700_000_000_000 + i, payload: filler },
        properties: { source: 'bench', index: i },
      }));

      // --- send: full 1 MB batches, a few in flight, round robin over partitions
      const sendStart = performance.now();
      const clientCpu0 = process.cpuUsage();
      let next = 0;
      let batches = 0;
      const worker = async (): Promise<void> => {
        while (next < events.length) {
          const batch = await producer.createBatch();
          while (next < events.length && batch.tryAdd(events[next]!)) next++;
          batches++;
          await producer.sendBatch(batch);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENT_SENDS }, worker));
      const sendMs = performance.now() - sendStart;
      const clientCpu1 = process.cpuUsage();
      const afterSend = await request(child, 'memory', 'memory');

      // --- receive: every partition from the start, large batches
      let received = 0;
      const recvStart = performance.now();
      let done!: () => void;
      const allReceived = new Promise<void>((resolve) => (done = resolve));
      const subs = Array.from({ length: PARTITIONS }, (_, p) =>
        consumer.subscribe(
          String(p),
          {
            processEvents: async (evs) => {
              received += evs.length;
              if (received >= EVENTS) done();
            },
            processError: async (err) => {
              process.stderr.write(`receive error: ${err.message}\n`);
            },
          },
          {
            startPosition: earliestEventPosition,
            maxBatchSize: 500,
            maxWaitTimeInSeconds: 1,
          },
        ),
      );
      await allReceived;
      const recvMs = performance.now() - recvStart;
      const clientCpu2 = process.cpuUsage();
      const cpuMs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number =>
        Math.round((b.user - a.user + b.system - a.system) / 1000);
      await Promise.all(subs.map((s) => s.close()));
      const afterRecv = await request(child, 'memory', 'memory');

      const retainedRss = afterSend.rss - before.rss;
      const result = {
        events: EVENTS,
        bodyBytes: BODY_BYTES,
        partitions: PARTITIONS,
        batches,
        concurrentSends: CONCURRENT_SENDS,
        sendMs: Math.round(sendMs),
        sendEventsPerSec: Math.round(EVENTS / (sendMs / 1000)),
        receiveMs: Math.round(recvMs),
        receiveEventsPerSec: Math.round(EVENTS / (recvMs / 1000)),
        server: {
          rssBeforeMiB: mib(before.rss),
          rssAfterSendMiB: mib(afterSend.rss),
          rssAfterReceiveMiB: mib(afterRecv.rss),
          peakRssMiB: mib(afterRecv.peakRss),
          heapUsedAfterSendMiB: mib(afterSend.heapUsed),
          externalAfterSendMiB: mib(afterSend.external),
          rssBytesPerRetainedEvent: Math.round(retainedRss / EVENTS),
          cpuMsSend: Math.round(afterSend.cpuMs - before.cpuMs),
          cpuMsReceive: Math.round(afterRecv.cpuMs - afterSend.cpuMs),
        },
        client: {
          peakRssMiB: mib(process.memoryUsage().rss),
          // The SDK's own CPU: when it is close to the phase's duration, the
          // client, not the emulator, is what limits events/s.
          cpuMsSend: cpuMs(clientCpu0, clientCpu1),
          cpuMsReceive: cpuMs(clientCpu1, clientCpu2),
        },
        node: process.version,
        at: new Date().toISOString(),
      };
      const table = [
        [
          'send',
          `${result.sendEventsPerSec.toLocaleString()} events/s`,
          `${result.sendMs} ms, ${batches} batches`,
        ],
        [
          'receive',
          `${result.receiveEventsPerSec.toLocaleString()} events/s`,
          `${result.receiveMs} ms`,
        ],
        [
          'CPU ms server/client',
          `send ${result.server.cpuMsSend} / ${result.client.cpuMsSend}`,
          `receive ${result.server.cpuMsReceive} / ${result.client.cpuMsReceive}`,
        ],
        [
          'server RSS',
          `${result.server.rssBeforeMiB} → ${result.server.rssAfterSendMiB} MiB`,
          `peak ${result.server.peakRssMiB} MiB`,
        ],
        [
          'per retained event',
          `${result.server.rssBytesPerRetainedEvent} B RSS`,
          `heap ${result.server.heapUsedAfterSendMiB} MiB, buffers ${result.server.externalAfterSendMiB} MiB`,
        ],
      ];
      for (const row of table)
        process.stdout.write(
          `${row[0]!.padEnd(20)}${row[1]!.padEnd(28)}${row[2]}\n`,
        );
      const dir = join(process.cwd(), 'bench', 'results');
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, 'emulator.json'),
        `${JSON.stringify(result, null, 2)}\n`,
      );
      process.stdout.write(
        `wrote ${join('bench', 'results', 'emulator.json')}\n`,
      );
    } finally {
      await consumer.close();
      await producer.close();
    }
  } finally {
    child.send({ type: 'stop' });
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }
}

if (process.env.EMULATOR_BENCH_CHILD === '1') {
  await runChild();
} else if (
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  await runEmulatorBench();
}
