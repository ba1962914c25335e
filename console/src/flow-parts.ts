import {
  call,
  FS,
  type Flow,
  type Segment,
  type SegmentPage,
  type Session,
} from './api';

/** The segment ids a flow maps (its segmentSelectors). */
export function segmentIdsOf(flow: Flow): string[] {
  return (flow.transformations ?? []).flatMap(
    (t) =>
      t.params?.segmentSelectors?.selectors
        ?.map((s) => s.value?.id)
        .filter((id): id is string => typeof id === 'string') ?? [],
  );
}

/** The attribute paths a flow maps (its profileSelectors). */
export function attributesOf(flow: Flow): string[] {
  return (flow.transformations ?? []).flatMap(
    (t) =>
      t.params?.profileSelectors?.selectors
        ?.map((s) => s.value?.path)
        .filter((p): p is string => typeof p === 'string') ?? [],
  );
}

/** The event hub names of a flow's targets, or the target ids when unknown. */
export function targetsOf(flow: Flow): string[] {
  const linked = flow.inheritedAttributes?.targetConnections ?? [];
  return flow.targetConnectionIds.map((id) => {
    const hub = linked.find((c) => c.id === id)?.params?.eventHubName;
    return typeof hub === 'string' ? hub : id;
  });
}

/** Segment names by id (the first 100 segments of the sandbox, by name). */
export async function segmentNames(
  session: Session,
): Promise<Map<string, string>> {
  const page = await call<SegmentPage>(
    session,
    '/data/core/ups/segment/definitions?limit=100&sort=name:asc',
  );
  return new Map(page.segments.map((s: Segment) => [s.id, s.name]));
}

export const flowPath = (id: string): string =>
  `${FS}/flows/${encodeURIComponent(id)}`;
