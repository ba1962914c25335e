import { Injectable } from '@nestjs/common';

/**
 * Set once the process starts to shut down. Work that could hold the
 * shutdown open for as long as a client likes (an NDJSON upload) listens to
 * `signal` and ends early with a definite answer; short requests simply
 * finish.
 */
@Injectable()
export class Draining {
  private readonly controller = new AbortController();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  start(): void {
    this.controller.abort();
  }
}
