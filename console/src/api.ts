/**
 * Every call the console makes goes through the public API with the usual
 * Platform headers, so tenancy and validation are the API's own. The token
 * lives in sessionStorage: it is gone when the tab closes.
 */

export const FS = '/data/foundation/flowservice';
const SESSION_KEY = 'fse-console-session';

export interface Session {
  clientId: string;
  orgId: string;
  sandbox: string;
  token: string;
  /** Epoch ms after which the token is refused. */
  expiresAt: number;
}

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    return s.expiresAt > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** An API answer that is not a success, with the text the API gave. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function messageOf(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as Record<string, unknown>;
  const text =
    (typeof b.message === 'string' && b.message) ||
    (typeof b.errorMessage === 'string' && b.errorMessage) ||
    (typeof b.error_description === 'string' && b.error_description) ||
    (typeof b.detail === 'string' && b.detail) ||
    `The server answered ${status}.`;
  const code =
    typeof b.code === 'string'
      ? b.code
      : typeof b.error_code === 'string'
        ? b.error_code
        : undefined;
  return new ApiError(status, text, code);
}

/** The org a token was issued for (its `org` claim), to prefill the org field. */
export function orgOfToken(token: string): string | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const org = (JSON.parse(json) as { org?: unknown }).org;
    return typeof org === 'string' ? org : undefined;
  } catch {
    return undefined;
  }
}

export async function signIn(
  clientId: string,
  clientSecret: string,
  orgId: string,
  sandbox: string,
): Promise<Session> {
  const res = await fetch('/ims/token/v3', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    access_token?: string;
    expires_in?: number;
  };
  if (!res.ok || !body.access_token) {
    if (res.status === 401 || res.status === 400)
      throw new ApiError(
        res.status,
        'The client id or secret was not accepted. Check both and try again.',
      );
    throw messageOf(res.status, body);
  }
  const session: Session = {
    clientId,
    orgId: orgId || orgOfToken(body.access_token) || '',
    sandbox: sandbox || 'prod',
    token: body.access_token,
    expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 - 30_000,
  };
  // One cheap call proves the org and sandbox before the pages use them.
  await call(session, `${FS}/flows?limit=1`);
  return session;
}

/** Listeners told when a call is refused for the session (expired token, wrong org). */
const unauthorized = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
}

export async function call<T = unknown>(
  session: Session,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${session.token}`,
    'x-api-key': session.clientId,
    'x-gw-ims-org-id': session.orgId,
    'x-sandbox-name': session.sandbox,
  };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = { message: text.slice(0, 300) };
  }
  if (!res.ok) {
    if (res.status === 401) for (const l of unauthorized) l();
    throw messageOf(res.status, body);
  }
  return body as T;
}

// Shapes of the API answers the pages read (only the fields they use).

export interface ListPage<T> {
  items: T[];
  _links?: { next?: { href: string } };
  count?: number;
}

export interface LinkedConnection {
  id: string;
  params?: Record<string, unknown>;
}

export interface Flow {
  id: string;
  name: string;
  state: string;
  createdAt: number;
  targetConnectionIds: string[];
  etag: string;
  transformations?: {
    name: string;
    params?: {
      segmentSelectors?: { selectors?: { value?: { id?: string } }[] };
      profileSelectors?: { selectors?: { value?: { path?: string } }[] };
    };
  }[];
  inheritedAttributes?: { targetConnections?: LinkedConnection[] };
  lastRunDetails?: { id: string; state: string; startedAtUTC: number };
}

export interface FlowMetrics {
  flowId: string;
  state: string;
  lagSeconds: number | null;
  lastSuccessAt: number | null;
  minutes: number;
  exports: number;
  failures: number;
  points: { at: number; exports: number; failures: number }[];
}

export interface RecordSummary {
  inputRecordCount?: number;
  outputRecordCount?: number;
  skippedRecordCount?: number;
  failedRecordCount?: number;
}

export interface Run {
  id: string;
  flowId: string;
  state: string;
  createdAt: number;
  metrics: {
    recordSummary?: RecordSummary;
    durationSummary?: { startedAtUTC?: number; completedAtUTC?: number };
    statusSummary?: {
      status?: string;
      errors?: { code?: string; message?: string }[];
    };
    failedInfo?: unknown;
  };
  _links?: Record<string, { href: string }>;
}

/** A failed or excluded record (delivery-operations contract). */
export interface DeliveryRecord {
  id: string;
  flowId: string;
  runId: string;
  targetConnectionId: string;
  profileId: string;
  identityMap: Record<string, { id: string }[]>;
  trigger: string;
  status: 'failed' | 'excluded';
  reasonCode: string;
  message: string;
  createdAt: number;
  replayedAt: number | null;
}

export interface PreviewTarget {
  targetConnectionId: string;
  eventHubName: string;
  outcome: 'send' | 'excluded' | 'none';
  trigger: string | null;
  reason: { code: string; message: string } | null;
  message: {
    messageId: string;
    messageIdScheme: string;
    partitionKey: string;
    partitionId: string;
    applicationProperties: Record<string, unknown>;
    body: string;
  } | null;
}

export interface Preview {
  flowId: string;
  profileId: string;
  entityId: string;
  entityIdNS: string;
  targets: PreviewTarget[];
}

export interface ActionResult {
  id: string;
  op: string;
  runId: string;
}

export interface SegmentJob {
  id: string;
  kind: string;
  status: string;
  processedProfiles: number;
  totalProfiles: number;
  enteredProfiles: number;
  exitedProfiles: number;
  error: string | null;
  updatedAt: number;
}

export interface Segment {
  id: string;
  name: string;
  description?: string;
  expression: { type: string; format: string; value: string };
  updateTime: number;
  evaluationJob?: SegmentJob;
}

export interface SegmentPage {
  segments: Segment[];
  page: { totalCount?: number; pageSize?: number };
  link?: { next?: string };
}

/** Members by status per definition (GET /data/core/ups/segment/metrics?ids=…). */
export interface SegmentMetrics {
  status: 'counted' | 'stale' | 'unavailable';
  countedAt: number | null;
  totalProfiles: number | null;
  segmentedProfileCounter: Record<string, number>;
  segmentedProfileByStatusCounter: Record<
    string,
    { realized: number; existing: number; exited: number }
  >;
}

export interface Connection {
  id: string;
  name: string;
  state?: string;
  connectionSpec: { id: string };
  auth?: { params?: Record<string, unknown> };
}

export interface TestResult {
  result: boolean;
  reason?: unknown;
}
