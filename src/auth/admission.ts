import type { INestApplication, Type } from '@nestjs/common';
import { GUARDS_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import type { NextFunction, Response } from 'express';
import type { AppRequest } from '../common/request-context.js';
import { PlatformAuthGuard } from './platform-auth.guard.js';
import { PlatformAuthenticator } from './platform-authenticator.js';

const guardsOf = (target: object): unknown[] =>
  (Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined) ?? [];

/**
 * The path prefixes of the controllers marked PlatformApi(). Read from the
 * controllers themselves so a new Platform controller is admitted like the
 * others; the decorator must sit on the class, since the check here runs
 * before routing (and so before a method is known).
 */
export function platformPrefixes(app: INestApplication): string[] {
  const prefixes: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as Type | null;
      if (!type) continue;
      if (!guardsOf(type).includes(PlatformAuthGuard)) {
        for (const name of Object.getOwnPropertyNames(type.prototype)) {
          const method = (type.prototype as Record<string, unknown>)[name];
          if (
            typeof method === 'function' &&
            guardsOf(method).includes(PlatformAuthGuard)
          )
            throw new Error(
              `${type.name}.${name}: put PlatformApi() on the controller class, so its callers are checked before their bodies are read`,
            );
        }
        continue;
      }
      const paths = Reflect.getMetadata(PATH_METADATA, type) as
        string | string[];
      for (const path of [paths].flat())
        prefixes.push(`/${path.replace(/^\/+|\/+$/g, '')}`.toLowerCase());
    }
  }
  return prefixes;
}

/**
 * Authenticates Platform requests from their headers before anything reads
 * their bodies: an unknown or unauthorized caller costs no body parsing and
 * no database write. The outcome is left on the request; the guard reports a
 * refusal through the error filter like any other error.
 */
export function admission(app: INestApplication) {
  const prefixes = platformPrefixes(app);
  const authenticator = app.get(PlatformAuthenticator);
  const isPlatform = (path: string): boolean =>
    prefixes.some((p) => path === p || path.startsWith(`${p}/`));
  return async (
    req: AppRequest,
    _res: Response,
    next: NextFunction,
  ): Promise<void> => {
    // Express routes ignore case and a trailing slash; so does this check.
    if (isPlatform(req.path.replace(/\/+$/, '').toLowerCase())) {
      try {
        req.tenant = await authenticator.authenticate(req.headers);
      } catch (err) {
        req.authFailure = err;
      }
    }
    next();
  };
}
