import { createServer } from 'node:net';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './unavailable.js';

const pgError = (code: string, message = `pg error ${code}`): Error =>
  Object.assign(new Error(message), { code });
const wrapped = (driverError: Error): QueryFailedError =>
  new QueryFailedError('SELECT 1', [], driverError);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('isDatabaseUnavailable', () => {
  it.each([
    ['connection refused', pgError('ECONNREFUSED', 'connect ECONNREFUSED')],
    ['connection reset', pgError('ECONNRESET', 'read ECONNRESET')],
    ['class 08 in a QueryFailedError', wrapped(pgError('08006'))],
    ['08P01 protocol violation', wrapped(pgError('08P01'))],
    ['admin shutdown (57P01)', wrapped(pgError('57P01'))],
    ['crash shutdown (57P02)', wrapped(pgError('57P02'))],
    ['starting up (57P03)', pgError('57P03')],
    ['too many connections (53300)', pgError('53300')],
    ['a lost socket', new Error('Connection terminated unexpectedly')],
    [
      'a lost socket inside a QueryFailedError',
      wrapped(new Error('Connection terminated unexpectedly')),
    ],
    ['a pool timeout', new Error('timeout exceeded when trying to connect')],
    [
      'a connect timeout',
      new Error('Connection terminated due to connection timeout'),
    ],
    [
      'one of several addresses refused (AggregateError)',
      new AggregateError([pgError('ECONNREFUSED')], 'connect failed'),
    ],
    [
      'a cause chain',
      new Error('step failed', { cause: pgError('ECONNREFUSED') }),
    ],
  ])('%s: unavailable', (_, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['unique violation', wrapped(pgError('23505'))],
    ['invalid text representation', wrapped(pgError('22P02'))],
    ['syntax error', wrapped(pgError('42601'))],
    ['deadlock', wrapped(pgError('40P01'))],
    ['a query cancelled by statement_timeout', wrapped(pgError('57014'))],
    ['a programming error', new TypeError('x is undefined')],
    ['not an error', 'ECONNREFUSED'],
    ['null', null],
  ])('%s: not unavailable', (_, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it('recognises what node-postgres really throws for a server that is not there', async () => {
    const client = new pg.Client({
      connectionString: `postgres://u:p@127.0.0.1:${await closedPort()}/db`,
    });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(err)).toBe(true);
  });
});
