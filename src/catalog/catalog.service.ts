import { Injectable } from '@nestjs/common';
import { notFound } from '../common/errors.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
import { listDocuments } from '../common/listing.js';
import { CONNECTION_SPECS, FLOW_SPECS } from './catalog.data.js';
import type {
  ConnectionSpecListDto,
  FlowSpecListDto,
} from './dto/catalog.dto.js';

const BASE = '/data/foundation/flowservice';

@Injectable()
export class CatalogService {
  listConnectionSpecs(query: ListQueryDto): ConnectionSpecListDto {
    return listDocuments(
      CONNECTION_SPECS,
      query,
      {
        filterable: ['id', 'name', 'providerId', 'attributes'],
        sortable: ['name', 'createdAt', 'id'],
      },
      `${BASE}/connectionSpecs`,
    ) as ConnectionSpecListDto;
  }

  getConnectionSpec(id: string): ConnectionSpecListDto {
    const spec = CONNECTION_SPECS.find((s) => s.id === id);
    if (!spec) throw notFound('connectionSpecs', id);
    return { items: [spec] };
  }

  listFlowSpecs(query: ListQueryDto): FlowSpecListDto {
    return listDocuments(
      FLOW_SPECS,
      query,
      {
        filterable: [
          'id',
          'name',
          'providerId',
          'sourceConnectionSpecIds',
          'targetConnectionSpecIds',
          'attributes',
        ],
        sortable: ['name', 'createdAt', 'id'],
      },
      `${BASE}/flowSpecs`,
    ) as FlowSpecListDto;
  }

  getFlowSpec(id: string): FlowSpecListDto {
    const spec = FLOW_SPECS.find((s) => s.id === id);
    if (!spec) throw notFound('flowSpecs', id);
    return { items: [spec] };
  }
}
