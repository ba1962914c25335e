// Writes src/metadata.ts: the @nestjs/swagger plugin's DTO metadata, for
// Vitest runs where the plugin (a tsc transformer) does not run.
import { PluginMetadataGenerator } from '@nestjs/cli/lib/compiler/plugins/plugin-metadata-generator.js';
import { ReadonlyVisitor } from '@nestjs/swagger/plugin';
import { resolve } from 'node:path';

const src = resolve(import.meta.dirname, '..', 'src');
new PluginMetadataGenerator().generate({
  visitors: [
    new ReadonlyVisitor({
      introspectComments: true,
      classValidatorShim: true,
      dtoFileNameSuffix: ['.dto.ts'],
      pathToSource: src,
    }),
  ],
  outputDir: src,
  watch: false,
  tsconfigPath: 'tsconfig.build.json',
});
