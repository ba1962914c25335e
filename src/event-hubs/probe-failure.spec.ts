import { describe, expect, it } from 'vitest';
import { classifyProbeError, describeProbeFailure } from './probe-failure.js';

const err = (fields: Record<string, unknown>): Error =>
  Object.assign(new Error('raw detail 127.0.0.1:8080 48545450'), fields);

describe('classifyProbeError', () => {
  it.each([
    [err({ code: 'ECONNREFUSED' }), 'unreachable'],
    [new AggregateError([err({ code: 'ECONNREFUSED' })]), 'unreachable'],
    [err({ code: 'ENOTFOUND' }), 'unreachable'],
    [err({ name: 'OperationTimeoutError' }), 'unreachable'],
    [err({ code: 'UnauthorizedError' }), 'key-refused'],
    [err({ code: 'MessagingEntityNotFoundError' }), 'hub-not-found'],
    [err({ code: 'ServerBusyError' }), 'busy'],
    [err({}), 'not-event-hubs'],
    [err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'not-event-hubs'],
    ['a string', 'not-event-hubs'],
  ])('%s → %s', (e, failure) => {
    expect(classifyProbeError(e)).toBe(failure);
  });

  it('never relays the error text', () => {
    for (const code of ['ECONNREFUSED', 'UnauthorizedError', 'X'])
      expect(describeProbeFailure(err({ code }), 'myns', 'hub')).not.toMatch(
        /raw detail|127\.0\.0\.1|48545450/,
      );
  });
});
