import type { ConnectionSpec, FlowSpec } from '../catalog.data.js';

/** `{items}` envelope of connection specs, or `{count}` with `count=true`. */
export class ConnectionSpecListDto {
  items?: ConnectionSpec[];
  count?: number;
}

export class FlowSpecListDto {
  items?: FlowSpec[];
  count?: number;
}
