/**
 * The read-only catalogue, versioned with the code. Ids are Adobe's published
 * ones (CONTRACT B §3) so scripts written for Adobe work unchanged.
 */
export const EVENT_HUBS_SPEC_ID = 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e';
export const PROFILE_STORE_SPEC_ID = '8a9c3494-9708-43d7-ae3f-cda01e5030e1';
export const PROFILE_FLOW_SPEC_ID = '71471eba-b620-49e4-90fd-23f1fa0174d8';
export const EVENT_HUBS_AUTH_SPEC = 'Azure EventHub authentication credentials';
const PROVIDER_ID = '521eee4d-8cbe-4906-bb48-fb6bd4450033';
const CATALOG_TIME = Date.UTC(2026, 0, 1);

const draft7 = 'http://json-schema.org/draft-07/schema#';

export interface AuthSpec {
  name: string;
  type: string;
  spec: Record<string, unknown>;
}

export interface ConnectionSpec {
  id: string;
  name: string;
  providerId: string;
  version: string;
  authSpec: AuthSpec[];
  sourceSpec?: Record<string, unknown>;
  targetSpec?: {
    name: string;
    type: string;
    spec: Record<string, unknown>;
    attributes?: Record<string, unknown>;
  };
  attributes: Record<string, unknown>;
  permissionsInfo: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

const permissions = {
  manage: [
    {
      '@type': 'lowLevel',
      name: 'EnterpriseDestination',
      permissions: ['write'],
    },
  ],
  view: [
    {
      '@type': 'lowLevel',
      name: 'EnterpriseDestination',
      permissions: ['read'],
    },
  ],
};

export const CONNECTION_SPECS: ConnectionSpec[] = [
  {
    id: EVENT_HUBS_SPEC_ID,
    name: 'Azure Event Hubs',
    providerId: PROVIDER_ID,
    version: '1.0',
    authSpec: [
      {
        name: EVENT_HUBS_AUTH_SPEC,
        type: 'SasKey',
        spec: {
          $schema: draft7,
          type: 'object',
          description: 'Shared access key of an Event Hubs namespace.',
          properties: {
            sasKeyName: {
              type: 'string',
              minLength: 1,
              maxLength: 256,
              description:
                'Name of the shared access policy (authorization rule).',
            },
            sasKey: {
              type: 'string',
              format: 'password',
              minLength: 1,
              maxLength: 1024,
              description: 'Primary or secondary key of that policy.',
            },
            namespace: {
              type: 'string',
              minLength: 1,
              maxLength: 256,
              pattern: '^[A-Za-z0-9.:-]+$',
              description:
                "Event Hubs namespace: `mynamespace` (→ mynamespace.servicebus.windows.net) or a full host under an allowed suffix (EVENTHUBS_ALLOWED_HOST_SUFFIXES, by default Azure's public, China and US Government clouds). A `host:port` such as `127.0.0.1:5673` is a development emulator, accepted only for hosts in EVENTHUBS_ALLOWED_ENDPOINTS.",
            },
            eventHubName: {
              type: 'string',
              minLength: 1,
              maxLength: 256,
              description:
                'Optional event hub for SAS policies scoped to one hub.',
            },
          },
          required: ['sasKeyName', 'sasKey', 'namespace'],
          additionalProperties: false,
        },
      },
    ],
    targetSpec: {
      name: 'Azure Event Hubs',
      type: 'Streaming',
      spec: {
        $schema: draft7,
        type: 'object',
        properties: {
          eventHubName: {
            type: 'string',
            minLength: 1,
            maxLength: 256,
            pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
            description: 'Event hub that receives the exports.',
          },
          includeSegmentNames: {
            type: 'boolean',
            default: false,
            description:
              'Add each segment name to its segmentMembership entry.',
          },
          includeSegmentTimestamps: {
            type: 'boolean',
            default: false,
            description:
              'Add createdAt, updatedAt, mappingCreatedAt, mappingUpdatedAt to each segmentMembership entry.',
          },
          consentPolicy: {
            type: 'object',
            description:
              "Send only profiles with consent: the value at `path` (an XDM attribute path, e.g. Adobe's consent field group `consents.share.val`) must be one of `allowed`. Profiles without consent are excluded (records with reason CONSENT); a profile this target received that withdraws consent gets one message with its mapped memberships `exited`, then nothing until consent returns.",
            properties: {
              path: {
                type: 'string',
                minLength: 1,
                maxLength: 256,
                pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$',
                description: 'Dotted attribute path of the consent value.',
              },
              allowed: {
                type: 'array',
                minItems: 1,
                maxItems: 20,
                items: { type: 'string', minLength: 1, maxLength: 64 },
                description: 'Values that mean consent, e.g. ["y"].',
              },
            },
            required: ['path', 'allowed'],
            additionalProperties: false,
          },
        },
        required: ['eventHubName'],
        additionalProperties: false,
      },
      attributes: {
        uiAttributes: {
          isDestination: true,
          category: 'cloudStorage',
          label: 'Azure Event Hubs',
          description: 'Stream profile exports to Azure Event Hubs.',
        },
      },
    },
    attributes: {
      category: 'cloudStorage',
      connectorName: 'Azure Event Hubs',
      isDestination: true,
      isSource: false,
    },
    permissionsInfo: permissions,
    createdAt: CATALOG_TIME,
    updatedAt: CATALOG_TIME,
  },
  {
    id: PROFILE_STORE_SPEC_ID,
    name: 'Profile Store',
    providerId: PROVIDER_ID,
    version: '1.0',
    authSpec: [],
    sourceSpec: {
      name: 'Profile Store',
      type: 'ProfileFragments',
      spec: {
        $schema: draft7,
        type: 'object',
        properties: {},
        additionalProperties: false,
      },
      attributes: { typeInfo: { type: 'ProfileFragments', id: 'ups' } },
    },
    attributes: {
      category: 'profile',
      connectorName: 'Profile Store',
      isSource: true,
      isDestination: false,
    },
    permissionsInfo: permissions,
    createdAt: CATALOG_TIME,
    updatedAt: CATALOG_TIME,
  },
];

export interface FlowSpec {
  id: string;
  name: string;
  providerId: string;
  version: string;
  sourceConnectionSpecIds: string[];
  targetConnectionSpecIds: string[];
  transformationSpecs: Record<string, unknown>[];
  attributes: Record<string, unknown>;
  permissionsInfo: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export const FLOW_SPECS: FlowSpec[] = [
  {
    id: PROFILE_FLOW_SPEC_ID,
    name: 'Profile Based Destination Flow',
    providerId: PROVIDER_ID,
    version: '1.0',
    sourceConnectionSpecIds: [PROFILE_STORE_SPEC_ID],
    targetConnectionSpecIds: [EVENT_HUBS_SPEC_ID],
    transformationSpecs: [
      {
        name: 'GeneralTransform',
        spec: {
          $schema: draft7,
          type: 'object',
          properties: {
            profileSelectors: {
              type: 'object',
              description:
                'Profile attributes to export (JSON_PATH selectors).',
            },
            segmentSelectors: {
              type: 'object',
              description: 'Segments to export (PLATFORM_SEGMENT selectors).',
            },
          },
        },
      },
    ],
    attributes: {
      isSourceFlow: false,
      isDestinationFlow: true,
      frequency: 'streaming',
      notification: { category: 'destinations', flowRun: { enabled: true } },
    },
    permissionsInfo: permissions,
    createdAt: CATALOG_TIME,
    updatedAt: CATALOG_TIME,
  },
];

export function findConnectionSpec(id: string): ConnectionSpec | undefined {
  return CONNECTION_SPECS.find((s) => s.id === id);
}

export function findFlowSpec(id: string): FlowSpec | undefined {
  return FLOW_SPECS.find((s) => s.id === id);
}

/** Auth fields stored encrypted and returned masked (CONTRACT A5). */
export function secretFields(authSpec: AuthSpec): string[] {
  const props = (authSpec.spec.properties ?? {}) as Record<
    string,
    { format?: string }
  >;
  return Object.entries(props)
    .filter(([, p]) => p.format === 'password')
    .map(([k]) => k);
}
