import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { randomBytes } from 'node:crypto';
import { ClientEntity } from './client.entity.js';
import { hashSecret, verifySecret } from './secret-hash.js';
import { SandboxEntity } from './sandbox.entity.js';

export interface CreatedClient {
  clientId: string;
  clientSecret: string;
  orgId: string;
  sandboxes: string[];
}

/**
 * The change keys of a client and a sandbox. The NOTIFY triggers on the
 * tables (migration TenancyNotify) send the same strings.
 */
export const clientKey = (clientId: string): string => `client:${clientId}`;
export const sandboxKey = (orgId: string, name: string): string =>
  `sandbox:${orgId}/${name}`;

/** Clients and sandboxes: used by the CLI and the development-client bootstrap. */
@Injectable()
export class TenancyService {
  private readonly changeListeners: ((key: string) => void)[] = [];

  constructor(
    @InjectRepository(ClientEntity)
    private readonly clients: Repository<ClientEntity>,
    @InjectRepository(SandboxEntity)
    private readonly sandboxes: Repository<SandboxEntity>,
  ) {}

  /**
   * Called after this instance changed a client (`client:<id>`) or sandbox
   * (`sandbox:<org>/<name>`). Other processes learn of changes from the
   * tables' NOTIFY triggers instead.
   */
  onChange(listener: (key: string) => void): void {
    this.changeListeners.push(listener);
  }

  private changed(key: string): void {
    for (const listener of this.changeListeners) listener(key);
  }

  /**
   * Creates a sandbox if it does not exist (idempotent). Names are stored in
   * lower case because the gateway lower-cases x-sandbox-name.
   */
  async ensureSandbox(
    orgId: string,
    sandboxName = 'prod',
  ): Promise<SandboxEntity> {
    const name = sandboxName.toLowerCase();
    await this.sandboxes
      .createQueryBuilder()
      .insert()
      .values({
        orgId,
        name,
        type: name === 'prod' ? 'production' : 'development',
      })
      .orIgnore()
      .execute();
    this.changed(sandboxKey(orgId, name));
    return this.sandboxes.findOneByOrFail({ orgId, name });
  }

  async findSandbox(
    orgId: string,
    name: string,
  ): Promise<SandboxEntity | null> {
    return this.sandboxes.findOneBy({ orgId, name });
  }

  listSandboxes(orgId?: string): Promise<SandboxEntity[]> {
    return this.sandboxes.find({
      where: orgId ? { orgId } : {},
      order: { orgId: 'ASC', name: 'ASC' },
    });
  }

  /**
   * Creates a client. The secret is returned once and only its scrypt hash is
   * stored. Passing a fixed id and secret (development client) is idempotent.
   */
  async createClient(input: {
    orgId: string;
    name?: string;
    clientId?: string;
    clientSecret?: string;
    sandboxes?: string[];
  }): Promise<CreatedClient> {
    const clientId = input.clientId ?? randomBytes(16).toString('hex');
    const clientSecret =
      input.clientSecret ?? `p8e-${randomBytes(24).toString('base64url')}`;
    const sandboxes = input.sandboxes?.length
      ? [...new Set(input.sandboxes.map((s) => s.toLowerCase()))]
      : ['*'];
    await this.ensureSandbox(input.orgId, 'prod');
    for (const s of sandboxes)
      if (s !== '*') await this.ensureSandbox(input.orgId, s);
    // Re-creating a client with its current secret (the development client at
    // every boot) keeps the stored hash, so tokens already issued stay valid.
    const existing = input.clientSecret
      ? await this.clients.findOneBy({ clientId })
      : null;
    const secretHash =
      existing && (await verifySecret(clientSecret, existing.secretHash))
        ? existing.secretHash
        : await hashSecret(clientSecret);
    await this.clients.upsert(
      {
        clientId,
        secretHash,
        orgId: input.orgId,
        name: input.name ?? clientId,
        sandboxes,
      },
      ['clientId'],
    );
    this.changed(clientKey(clientId));
    return { clientId, clientSecret, orgId: input.orgId, sandboxes };
  }

  /**
   * Gives a client a new secret, returned once. Tokens issued with the old
   * secret stop working (they carry a digest of the hash they were issued
   * under).
   */
  async rotateSecret(
    clientId: string,
  ): Promise<{ clientId: string; clientSecret: string } | null> {
    const clientSecret = `p8e-${randomBytes(24).toString('base64url')}`;
    const result = await this.clients.update(
      { clientId },
      { secretHash: await hashSecret(clientSecret) },
    );
    this.changed(clientKey(clientId));
    return result.affected ? { clientId, clientSecret } : null;
  }

  listClients(): Promise<ClientEntity[]> {
    return this.clients.find({ order: { createdAt: 'ASC' } });
  }

  findClient(clientId: string): Promise<ClientEntity | null> {
    return this.clients.findOneBy({ clientId });
  }
}
